// Colour scales. Ranks use a perceptually ordered sequential scale (light =
// small rank, dark = large) so the eye reads "more capacity" as "darker";
// on/off modules get one warm colour apart from it; kinds get a categorical
// palette that stays distinguishable for common colour-vision deficiencies.

// Stops of a yellow–green–blue scale (ColorBrewer YlGnBu, light end trimmed
// so the smallest rank still stands out from a white "pruned" cell).
const RANK_STOPS = ['#c7e9b4', '#7fcdbb', '#41b6c4', '#1d91c0', '#225ea8', '#253494', '#081d58'];

export const ON_COLOR = '#f28e2b';
export const PRUNED_FILL = '#ffffff';
export const PRUNED_STROKE = '#c3c9d2';
export const SEARCHING_FILL = '#e4e7ec';

const KIND_COLORS = {
  lora: '#4e79a7',
  adapter: '#76b7b2',
  bitfit: '#59a14f',
  lnfit: '#e15759',
  serial_adapter: '#9c755f',
  parallel_adapter: '#b07aa1',
  prefix: '#edc948',
};

export function kindColor(kind) {
  return KIND_COLORS[kind] || '#9aa3ad';
}

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function rgbToHex([r, g, b]) {
  return '#' + [r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
}

/** The scale at t ∈ [0, 1], interpolated between the stops in RGB. */
function sample(t) {
  const x = Math.min(1, Math.max(0, t)) * (RANK_STOPS.length - 1);
  const i = Math.min(RANK_STOPS.length - 2, Math.floor(x));
  const a = hexToRgb(RANK_STOPS[i]);
  const b = hexToRgb(RANK_STOPS[i + 1]);
  const f = x - i;
  return rgbToHex(a.map((v, k) => v + (b[k] - v) * f));
}

/**
 * A colour per candidate rank: the ranks are spread evenly over the scale by
 * their position (ranks are usually powers of two, so position reads better
 * than value). Returns a Map rank → "#rrggbb".
 */
export function rankScale(ranks) {
  const sorted = [...new Set(ranks)].sort((a, b) => a - b);
  const scale = new Map();
  sorted.forEach((rank, i) => {
    const t = sorted.length === 1 ? 0.6 : 0.08 + (0.92 * i) / (sorted.length - 1);
    scale.set(rank, sample(t));
  });
  return scale;
}

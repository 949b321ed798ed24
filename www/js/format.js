// Numbers and names as the page shows them.

const grouped = new Intl.NumberFormat('en-US');

/** 12345 → "12,345". */
export function count(n) {
  return grouped.format(Math.round(n));
}

/** 12345 → "12.3k", 2400000 → "2.4M": for axis ticks and tight labels. */
export function short(n) {
  const a = Math.abs(n);
  if (a >= 1e9) return trim(n / 1e9) + 'G';
  if (a >= 1e6) return trim(n / 1e6) + 'M';
  if (a >= 1e3) return trim(n / 1e3) + 'k';
  return trim(n);
}

function trim(x) {
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return String(Number(x.toFixed(digits)));
}

/** 0.01391 → "1.39 %"; small shares keep three significant digits. */
export function percent(fraction) {
  const p = fraction * 100;
  if (p === 0) return '0 %';
  if (Math.abs(p) < 0.1) return p.toPrecision(3) + ' %';
  return p.toFixed(p >= 10 ? 1 : 2) + ' %';
}

export const KIND_LABELS = {
  lora: 'LoRA',
  adapter: 'Adapter',
  bitfit: 'BitFit',
  lnfit: 'LN-tuning',
  serial_adapter: 'Serial adapter',
  parallel_adapter: 'Parallel adapter',
  prefix: 'Prefix',
};

export function kindLabel(kind) {
  return KIND_LABELS[kind] || kind;
}

// Where a slot sits inside a block, in words short enough for a row label.
const POINT_LABELS = {
  Query: 'query',
  Key: 'key',
  Value: 'value',
  AttnOutput: 'attn out',
  CrossQuery: 'cross query',
  CrossKey: 'cross key',
  CrossValue: 'cross value',
  CrossOutput: 'cross out',
  FfnIn: 'FFN in',
  FfnGate: 'FFN gate',
  FfnOut: 'FFN out',
  AttnNorm: 'attn norm',
  CrossAttnNorm: 'cross norm',
  FfnNorm: 'FFN norm',
  FinalNorm: 'final norm',
  EmbeddingNorm: 'embedding norm',
  Attention: 'self-attention',
  AttnSublayer: 'after attn',
  CrossAttnSublayer: 'after cross',
  FfnSublayer: 'after FFN',
};

export function pointLabel(point) {
  return POINT_LABELS[point] || point;
}

/** "bert · 6 + 0 layers · d 384": a backbone in one line. */
export function backboneLine(b) {
  const layers = b.decoder_layers ? `${b.encoder_layers} + ${b.decoder_layers} layers` : `${b.encoder_layers} layers`;
  return `${b.model_type} · ${layers} · d_model ${b.d_model} · ${short(b.backbone_params)} parameters`;
}

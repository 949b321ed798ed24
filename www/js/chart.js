// A small SVG line chart: a few series over one x axis, optional horizontal
// reference lines (the budget), and a vertical marker the replay moves.

import { s } from './dom.js';
import { short } from './format.js';

function niceTicks(lo, hi, n = 4, integer = false) {
  if (!(hi > lo)) return [lo];
  const raw = integer ? Math.max(1, (hi - lo) / n) : (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/**
 * series: [{label, points: [[x, y], ...], color, dots?, dashed?}]
 * lines: [{y, label, color}] horizontal reference lines
 * Returns {svg, mark(x)}: `mark` moves the vertical marker (null hides it).
 */
export function lineChart({ width = 420, height = 190, series, lines = [], xLabel = '', yFormat = short, testid, yMin }) {
  const m = { l: 48, r: 12, t: 14 + 14 * series.length, b: 32 };
  const xs = series.flatMap((se) => se.points.map((p) => p[0]));
  const ys = series.flatMap((se) => se.points.map((p) => p[1])).concat(lines.map((l) => l.y));
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(1, ...xs);
  const y0 = yMin !== undefined ? yMin : Math.min(...ys, 0);
  const y1 = Math.max(...ys) * 1.06 || 1;
  const X = (v) => m.l + ((v - x0) / (x1 - x0)) * (width - m.l - m.r);
  const Y = (v) => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);

  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, 'data-testid': testid, role: 'img' });
  for (const t of niceTicks(y0, y1)) {
    svg.append(
      s('line', { x1: m.l, x2: width - m.r, y1: Y(t), y2: Y(t), class: 'ch-grid' }),
      s('text', { x: m.l - 6, y: Y(t), class: 'ch-tick', 'text-anchor': 'end', 'dominant-baseline': 'central', text: yFormat(t) }),
    );
  }
  // Steps and epochs are counts: whole-number ticks.
  for (const t of niceTicks(x0, x1, 5, xs.every(Number.isInteger))) {
    svg.append(s('text', { x: X(t), y: height - m.b + 14, class: 'ch-tick', 'text-anchor': 'middle', text: short(t) }));
  }
  svg.append(
    s('line', { x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b, class: 'ch-axis' }),
    s('text', { x: (m.l + width - m.r) / 2, y: height - 4, class: 'ch-axis-label', 'text-anchor': 'middle', text: xLabel }),
  );
  for (const line of lines) {
    svg.append(
      s('line', { x1: m.l, x2: width - m.r, y1: Y(line.y), y2: Y(line.y), stroke: line.color, class: 'ch-ref' }),
      s('text', { x: width - m.r, y: Y(line.y) - 4, class: 'ch-ref-label', fill: line.color, 'text-anchor': 'end', text: line.label }),
    );
  }
  for (const se of series) {
    if (se.points.length > 1) {
      const d = se.points.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)} ${Y(p[1]).toFixed(1)}`).join(' ');
      svg.append(s('path', { d, stroke: se.color, class: se.dashed ? 'ch-line ch-dashed' : 'ch-line' }));
    }
    if (se.dots || se.points.length === 1) {
      for (const p of se.points) svg.append(s('circle', { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: se.color }));
    }
  }
  // Legend above the plot.
  series.forEach((se, i) => {
    svg.append(
      s('rect', { x: m.l, y: 6 + i * 14, width: 12, height: 3, fill: se.color }),
      s('text', { x: m.l + 18, y: 8 + i * 14, class: 'ch-legend', 'dominant-baseline': 'central', text: se.label }),
    );
  });
  const marker = s('line', { y1: m.t, y2: height - m.b, class: 'ch-marker', visibility: 'hidden' });
  svg.append(marker);
  return {
    svg,
    mark(x) {
      if (x === null || x === undefined) {
        marker.setAttribute('visibility', 'hidden');
        return;
      }
      marker.setAttribute('x1', X(x));
      marker.setAttribute('x2', X(x));
      marker.setAttribute('visibility', 'visible');
    },
  };
}

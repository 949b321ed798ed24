// The layer map: one row per kind of module and place in a block, one column
// per layer, one cell per slot of the search space. A cell's colour is the
// chosen rank; a pruned slot is a blank outlined cell; on/off modules (BitFit,
// LN-tuning) are one colour when kept.

import { s, h, clear } from './dom.js';
import { count, kindLabel, pointLabel } from './format.js';
import { ON_COLOR, PRUNED_FILL, PRUNED_STROKE, SEARCHING_FILL } from './colors.js';

const MIN_LABEL_W = 150; // row labels, at least
const KIND_W = 12; // the kind's bracket left of the row labels
const HEAD_H = 40; // stack names and layer numbers
const GAP = 2; // between cells
const GROUP_GAP = 8; // between kinds, and between stacks

// Sites that belong to a stack, not to one block, get a column of their own.
function columnKey(slot) {
  if (slot.point === 'EmbeddingNorm') return `${slot.stack}:emb`;
  if (slot.point === 'FinalNorm') return `${slot.stack}:final`;
  return `${slot.stack}:${slot.layer}`;
}

/** Rows (kind, point) and columns (stack, layer) of the slots, in forward order. */
export function layout(slots, kinds) {
  const kindOrder = kinds.map((k) => k.kind);
  const rowsByKind = new Map(kindOrder.map((k) => [k, []]));
  const seenRows = new Set();
  for (const slot of slots) {
    const key = `${slot.kind}:${slot.point}`;
    if (seenRows.has(key)) continue;
    seenRows.add(key);
    if (!rowsByKind.has(slot.kind)) rowsByKind.set(slot.kind, []);
    rowsByKind.get(slot.kind).push({ key, kind: slot.kind, point: slot.point });
  }
  // Stack-level norms go last within their kind, where they read as "and at the end".
  const stackLevel = (p) => (p === 'EmbeddingNorm' || p === 'FinalNorm' ? 1 : 0);
  const rows = [];
  for (const list of rowsByKind.values()) {
    list.sort((a, b) => stackLevel(a.point) - stackLevel(b.point));
    rows.push(...list);
  }

  const stacks = [];
  for (const stack of ['Encoder', 'Decoder']) {
    const of = slots.filter((x) => x.stack === stack);
    if (!of.length) continue;
    const blockLayers = of.filter((x) => x.point !== 'FinalNorm' && x.point !== 'EmbeddingNorm').map((x) => x.layer);
    const n = blockLayers.length ? Math.max(...blockLayers) + 1 : 0;
    const cols = [];
    if (of.some((x) => x.point === 'EmbeddingNorm')) cols.push({ key: `${stack}:emb`, label: 'emb' });
    for (let l = 0; l < n; l++) cols.push({ key: `${stack}:${l}`, label: String(l) });
    if (of.some((x) => x.point === 'FinalNorm')) cols.push({ key: `${stack}:final`, label: 'fin' });
    stacks.push({ stack, cols });
  }
  return { rows, stacks };
}

// Text width in the map's fonts (.hm-kind / .hm-row in style.css), measured
// on a canvas so that labels never run into each other.
let measureCtx = null;
function textWidth(text, font) {
  if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
  const family = getComputedStyle(document.body).fontFamily || 'sans-serif';
  measureCtx.font = `${font} ${family}`;
  return measureCtx.measureText(text).width;
}

/** Width of the label column: the kind's name and its first row's label share a line. */
function labelWidth(rows) {
  let need = MIN_LABEL_W;
  let lastKind = null;
  for (const row of rows) {
    const rowW = textWidth(pointLabel(row.point), '11.5px');
    const first = row.kind !== lastKind;
    lastKind = row.kind;
    need = Math.max(need, (first ? 4 + textWidth(kindLabel(row.kind), '650 12px') + 12 : 0) + rowW + 8);
  }
  return Math.ceil(need);
}

/**
 * Draws the map into `container` and returns a handle whose `show(states)`
 * repaints the cells: `states[i]` is, for slot i, `{state, rank}` with state
 * one of "kept", "pruned", "searching", "fixed".
 *
 * `scale` maps ranks to colours; `testid` marks the SVG for tests.
 */
export function renderHeatmap(container, inspection, scale, { testid = 'heatmap', width = 880 } = {}) {
  clear(container);
  const { rows, stacks } = layout(inspection.slots, inspection.kinds);
  const LABEL_W = labelWidth(rows);
  const nCols = stacks.reduce((n, st) => n + st.cols.length, 0);
  const stackGaps = (stacks.length - 1) * GROUP_GAP;
  // Cells as wide as `width` allows, up to a comfortable size for small models.
  const cell = Math.max(9, Math.min(40, Math.floor((width - LABEL_W - KIND_W - stackGaps) / nCols) - GAP));
  const cellH = Math.max(9, Math.min(20, cell));

  // x of every column.
  const colX = new Map();
  let x = LABEL_W + KIND_W;
  const stackSpans = [];
  for (const st of stacks) {
    const x0 = x;
    for (const col of st.cols) {
      colX.set(col.key, x);
      x += cell + GAP;
    }
    stackSpans.push({ stack: st.stack, x0, x1: x - GAP, cols: st.cols });
    x += GROUP_GAP;
  }
  const totalW = x - GROUP_GAP;

  // y of every row, with a gap between kinds.
  const rowY = new Map();
  const kindSpans = [];
  let y = HEAD_H;
  let current = null;
  for (const row of rows) {
    if (current && current.kind !== row.kind) {
      current.y1 = y - GAP;
      y += GROUP_GAP;
      current = null;
    }
    if (!current) {
      current = { kind: row.kind, y0: y };
      kindSpans.push(current);
    }
    rowY.set(row.key, y);
    y += cellH + GAP;
  }
  if (current) current.y1 = y - GAP;
  const totalH = y;

  const svg = s('svg', {
    'data-testid': testid,
    class: 'heatmap',
    viewBox: `0 0 ${totalW} ${totalH}`,
    width: totalW,
    height: totalH,
    role: 'img',
    'aria-label': `Layer map of ${inspection.slots.length} slots`,
  });

  // Column heads: stack name over its layers, then layer numbers.
  for (const span of stackSpans) {
    svg.append(
      s('text', { x: (span.x0 + span.x1) / 2, y: 12, class: 'hm-stack', 'text-anchor': 'middle', text: span.stack.toLowerCase() }),
      s('line', { x1: span.x0, x2: span.x1, y1: 17, y2: 17, class: 'hm-rule' }),
    );
    const every = cell < 14 ? (span.cols.length > 30 ? 4 : 2) : 1;
    span.cols.forEach((col, i) => {
      const numeric = /^\d+$/.test(col.label);
      if (numeric && Number(col.label) % every !== 0) return;
      svg.append(
        s('text', {
          x: colX.get(col.key) + cell / 2,
          y: HEAD_H - 8,
          class: numeric ? 'hm-layer' : 'hm-layer hm-special',
          'text-anchor': 'middle',
          text: col.label,
        }),
      );
    });
  }

  // Row labels, and the kind as a bracket with its name.
  for (const row of rows) {
    svg.append(
      s('text', {
        x: LABEL_W + KIND_W - 8,
        y: rowY.get(row.key) + cellH / 2,
        class: 'hm-row',
        'text-anchor': 'end',
        'dominant-baseline': 'central',
        text: pointLabel(row.point),
      }),
    );
  }
  for (const span of kindSpans) {
    const bx = LABEL_W + KIND_W - 4;
    svg.append(
      s('path', { d: `M${bx} ${span.y0} H${bx + 2} V${span.y1} H${bx}`, class: 'hm-bracket' }),
      s('text', {
        x: 4,
        y: span.y0 + 2,
        class: 'hm-kind',
        'dominant-baseline': 'hanging',
        text: kindLabel(span.kind),
      }),
    );
  }

  // The cells.
  const cells = inspection.slots.map((slot, index) => {
    const rect = s('rect', {
      x: colX.get(columnKey(slot)),
      y: rowY.get(`${slot.kind}:${slot.point}`),
      width: cell,
      height: cellH,
      rx: 2,
      class: 'hm-cell',
      'data-slot': slot.name,
      'data-kind': slot.kind,
      'data-index': index,
    });
    const title = s('title');
    rect.append(title);
    svg.append(rect);
    return { rect, title, slot };
  });

  const handle = {
    svg,
    /** Repaints every cell from per-slot states. */
    show(states) {
      cells.forEach(({ rect, title, slot }, i) => {
        const { state, rank } = states[i];
        let fill;
        let dataRank;
        let what;
        if (state === 'pruned') {
          fill = PRUNED_FILL;
          dataRank = 0;
          what = 'pruned';
        } else if (state === 'searching') {
          fill = SEARCHING_FILL;
          dataRank = null;
          what = 'still searched';
        } else if (slot.ranks.length) {
          fill = scale.get(rank) || '#000000';
          dataRank = rank;
          what = `${state === 'fixed' ? 'rank fixed at' : 'rank'} ${rank} · ${count(slot.params[slot.ranks.indexOf(rank)])} parameters`;
        } else {
          fill = ON_COLOR;
          dataRank = 1;
          what = `on · ${count(slot.params[0])} parameters`;
        }
        rect.setAttribute('fill', fill);
        rect.setAttribute('data-state', state);
        if (dataRank === null) rect.removeAttribute('data-rank');
        else rect.setAttribute('data-rank', String(dataRank));
        rect.classList.toggle('hm-pruned', state === 'pruned');
        if (state === 'pruned') rect.setAttribute('stroke', PRUNED_STROKE);
        else rect.removeAttribute('stroke');
        const candidates = slot.ranks.length ? ` (candidates ${slot.ranks.join(', ')})` : ' (on/off)';
        title.textContent = `${slot.name}\n${kindLabel(slot.kind)}${candidates}: ${what}`;
      });
    },
  };
  container.append(svg);
  return handle;
}

/** The states of a configuration as it was chosen: kept or pruned. */
export function resultStates(inspection) {
  return inspection.slots.map((slot) => (slot.on ? { state: 'kept', rank: slot.rank } : { state: 'pruned', rank: 0 }));
}

/** The legend for the map: rank colours, "on", pruned, and (when replaying) "still searched". */
export function renderLegend(scale, { hasOnOff = true, searching = false } = {}) {
  const swatch = (fill, stroke, testid, rank) =>
    s('svg', { width: 16, height: 16, class: 'swatch' }, [
      s('rect', { x: 1, y: 1, width: 14, height: 14, rx: 2, fill, stroke: stroke || 'none', 'data-testid': testid, 'data-rank': rank }),
    ]);
  const items = [h('span', { class: 'legend-title', text: 'rank' })];
  for (const [rank, fill] of scale) {
    items.push(h('span', { class: 'legend-item' }, [swatch(fill, null, 'legend-rank', rank), String(rank)]));
  }
  if (hasOnOff) items.push(h('span', { class: 'legend-item' }, [swatch(ON_COLOR, null, 'legend-on'), 'on (no rank)']));
  items.push(h('span', { class: 'legend-item' }, [swatch(PRUNED_FILL, PRUNED_STROKE, 'legend-pruned'), 'pruned']));
  if (searching) items.push(h('span', { class: 'legend-item' }, [swatch(SEARCHING_FILL, null, 'legend-searching'), 'still searched']));
  return h('div', { class: 'legend' }, items);
}

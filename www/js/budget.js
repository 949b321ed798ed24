// Parameters per kind against the budget: one stacked bar of the kept
// modules' parameters, split by kind, under the budget line; then one row per
// kind with its share of the budget and of its slots.

import { s, h } from './dom.js';
import { count, short, percent, kindLabel } from './format.js';
import { kindColor } from './colors.js';

/**
 * `inspection` as `inspect_config` returns it. `scaleMax` (optional) puts two
 * results side by side on one scale.
 */
export function renderBudget(inspection, { width = 560, scaleMax } = {}) {
  const { budget_params: budget, trainable_params: trainable, kinds } = inspection;
  const max = scaleMax || Math.max(budget, trainable) * 1.08 || 1;
  const left = 118;
  const right = 16;
  const barW = width - left - right;
  const px = (v) => left + (v / max) * barW;

  const svg = s('svg', {
    class: 'budget',
    'data-testid': 'budget-chart',
    viewBox: `0 0 ${width} ${58 + kinds.length * 24}`,
    width,
    height: 58 + kinds.length * 24,
    role: 'img',
    'aria-label': `${count(trainable)} trainable parameters of a budget of ${count(budget)}`,
  });

  // The stacked bar.
  svg.append(s('text', { x: left - 8, y: 24, class: 'bd-label', 'text-anchor': 'end', 'dominant-baseline': 'central', text: 'all kept' }));
  svg.append(s('rect', { x: left, y: 14, width: barW, height: 20, class: 'bd-track' }));
  let acc = 0;
  for (const k of kinds) {
    if (!k.params) continue;
    const seg = s('rect', {
      x: px(acc),
      y: 14,
      width: Math.max(0.5, px(acc + k.params) - px(acc)),
      height: 20,
      fill: kindColor(k.kind),
      'data-kind': k.kind,
    });
    seg.append(s('title', { text: `${kindLabel(k.kind)}: ${count(k.params)} parameters` }));
    svg.append(seg);
    acc += k.params;
  }
  // The budget line across everything.
  const bx = px(budget);
  const bottom = 46 + kinds.length * 24;
  svg.append(
    s('line', { x1: bx, x2: bx, y1: 6, y2: bottom, class: 'bd-budget' }),
    s('text', {
      x: bx,
      y: 4,
      class: 'bd-budget-label',
      'text-anchor': bx > width - 120 ? 'end' : 'middle',
      text: `budget ${count(budget)}`,
    }),
  );

  // One row per kind.
  kinds.forEach((k, i) => {
    const y = 50 + i * 24;
    svg.append(
      s('text', { x: left - 8, y: y + 8, class: 'bd-label', 'text-anchor': 'end', 'dominant-baseline': 'central', text: kindLabel(k.kind) }),
      s('rect', { x: left, y, width: barW, height: 16, class: 'bd-track' }),
      s('rect', { x: left, y, width: Math.max(k.params ? 1 : 0, px(k.params) - left), height: 16, fill: kindColor(k.kind) }),
      // The value goes right of its bar, or inside its end when the bar is long.
      (() => {
        const text = `${short(k.params)} · ${k.kept}/${k.slots} kept`;
        const room = width - right - (px(k.params) + 6);
        const inside = room < text.length * 6.4;
        return s('text', {
          x: inside ? px(k.params) - 6 : px(k.params) + 6,
          y: y + 8,
          class: inside ? 'bd-value bd-inside' : 'bd-value',
          'dominant-baseline': 'central',
          'text-anchor': inside ? 'end' : 'start',
          text,
        });
      })(),
    );
  });

  const rows = kinds.map((k) =>
    h('tr', {}, [
      h('td', {}, [h('span', { class: 'dot', style: `background:${kindColor(k.kind)}` }), kindLabel(k.kind)]),
      h('td', { class: 'num', text: `${k.kept} / ${k.slots}` }),
      h('td', { class: 'num', text: count(k.params) }),
      h('td', { class: 'num', text: budget ? percent(k.params / budget) : '–' }),
      h('td', { class: 'num muted', text: short(k.max_params) }),
    ]),
  );
  const table = h('table', { class: 'kinds', 'data-testid': 'kind-table' }, [
    h('thead', {}, [
      h('tr', {}, [
        h('th', { text: 'kind' }),
        h('th', { class: 'num', text: 'kept / slots' }),
        h('th', { class: 'num', text: 'parameters' }),
        h('th', { class: 'num', text: 'of budget' }),
        h('th', { class: 'num', text: 'all slots at max rank' }),
      ]),
    ]),
    h('tbody', {}, rows),
    h('tfoot', {}, [
      h('tr', {}, [
        h('td', { text: 'total' }),
        h('td', { class: 'num', text: `${kinds.reduce((n, k) => n + k.kept, 0)} / ${kinds.reduce((n, k) => n + k.slots, 0)}` }),
        h('td', { class: 'num', text: count(trainable) }),
        h('td', { class: 'num', text: budget ? percent(trainable / budget) : '–' }),
        h('td', { class: 'num muted', text: short(inspection.supernet_params) }),
      ]),
    ]),
  ]);
  return h('div', { class: 'budget-block' }, [svg, table]);
}

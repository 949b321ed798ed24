// Replays a search on the layer map: frame 0 is the start (every slot still
// searched), frame k the state after the k-th selection step (slots pruned,
// ranks fixed), the last frame the configuration the search ended with. A
// slider and a play button move through the frames; two charts show the
// expected parameter count against the budget and the losses, with a marker
// at the current frame.

import { h } from './dom.js';
import { count, short } from './format.js';
import { lineChart } from './chart.js';
import { resultStates } from './heatmap.js';

/** The per-slot states of every frame. */
export function frames(inspection, replay) {
  const n = inspection.slots.length;
  const out = [];
  let current = Array.from({ length: n }, () => ({ state: 'searching', rank: null }));
  out.push(current);
  for (const step of replay.selections) {
    current = current.slice();
    for (const i of step.pruned) current[i] = { state: 'pruned', rank: 0 };
    // A rank fixed at 0 (the no_iter ablation's "off") is a pruned slot.
    for (const f of step.fixed) current[f.slot] = f.rank === 0 ? { state: 'pruned', rank: 0 } : { state: 'fixed', rank: f.rank };
    out.push(current);
  }
  out.push(resultStates(inspection));
  return out;
}

function cumulativeSteps(epochs) {
  let acc = 0;
  return epochs.map((e) => (acc += e.weight_steps));
}

export function renderTimeline(inspection, replay, heatmap, { chartWidth = 420 } = {}) {
  const all = frames(inspection, replay);
  const last = all.length - 1;
  const K = replay.selections.length;
  const ends = cumulativeSteps(replay.epochs);
  const finalStep = replay.stopped ? replay.stopped[1] : replay.weight_steps;

  // Per-step records (what `bipeft search` writes) draw the curves; a trace
  // with epoch reports only draws one point per epoch.
  const perStep = replay.steps.length > 0;
  const at = (e, i) => [ends[i], e];
  const stepSeries = (field) => replay.steps.filter((r) => r[field] !== null && r[field] !== undefined).map((r) => [r.step + 1, r[field]]);
  const expectedPoints = perStep
    ? stepSeries('expected_params')
    : replay.epochs.map((e, i) => at(e.expected_params, i)).filter((p) => p[1] !== null && p[1] !== undefined);
  const expected = lineChart({
    width: chartWidth,
    height: 210,
    testid: 'timeline-expected',
    xLabel: 'weight step',
    series: [
      { label: perStep ? 'expected parameters E' : 'expected parameters E (epoch end)', color: '#4e79a7', points: expectedPoints },
      {
        label: 'E at a selection step',
        color: '#e15759',
        dots: true,
        points: replay.selections.map((st) => [st.weight_step, st.expected_params]),
      },
    ],
    lines: [{ y: inspection.budget_params, label: `budget ${short(inspection.budget_params)}`, color: '#333a44' }],
  });
  const lossSeries = perStep
    ? [
        { label: 'weight loss', color: '#59a14f', points: stepSeries('weight_loss') },
        { label: 'architecture loss', color: '#b07aa1', points: stepSeries('arch_loss') },
      ]
    : [
        { label: 'weight loss (epoch mean)', color: '#59a14f', points: replay.epochs.map((e, i) => at(e.weight_loss, i)) },
        { label: 'architecture loss (epoch mean)', color: '#b07aa1', points: replay.epochs.map((e, i) => at(e.arch_loss, i)) },
      ];
  const lossValues = lossSeries.flatMap((se) => se.points.map((p) => p[1]));
  const losses = lineChart({
    width: chartWidth,
    height: 210,
    testid: 'timeline-loss',
    xLabel: 'weight step',
    yFormat: (v) => v.toFixed(2),
    yMin: lossValues.length ? Math.max(0, Math.floor(Math.min(...lossValues) * 8) / 10) : 0,
    series: lossSeries,
  });

  const slider = h('input', {
    type: 'range',
    min: 0,
    max: last,
    step: 1,
    value: last,
    'data-testid': 'timeline-slider',
    'aria-label': 'selection step',
  });
  const play = h('button', { class: 'play', 'data-testid': 'timeline-play', type: 'button', text: '▶ Play' });
  const label = h('div', { class: 'timeline-label', 'data-testid': 'timeline-label', 'aria-live': 'polite' });

  const epochOf = (step) => {
    const i = ends.findIndex((e) => e >= step);
    return i < 0 ? replay.epochs[replay.epochs.length - 1] : replay.epochs[i];
  };
  const pruneTotals = [];
  replay.selections.reduce((acc, st) => {
    pruneTotals.push(acc + st.pruned.length);
    return acc + st.pruned.length;
  }, 0);

  function describe(f) {
    if (f === 0) return `Start · all ${count(inspection.slots.length)} slots searched`;
    if (f === last) {
      const kept = inspection.slots.filter((x) => x.on).length;
      const stop = replay.stopped ? `stopped early at weight step ${count(replay.stopped[1])}` : `ran ${replay.epochs.length} epochs`;
      return `Result · ${kept} modules kept, ${count(inspection.trainable_params)} of ${count(inspection.budget_params)} parameters · ${stop}`;
    }
    const st = replay.selections[f - 1];
    const record = replay.steps.find((r) => r.step + 1 === st.weight_step);
    const e = epochOf(st.weight_step);
    const tauValue = record && record.tau != null ? record.tau : e ? e.tau : null;
    const tau = tauValue != null ? ` · τ ${tauValue.toFixed(2)}` : '';
    const fixed = st.fixed.length ? `, ${st.fixed.length} ranks fixed` : '';
    return `Selection step ${f} of ${K} · epoch ${st.epoch} · weight step ${count(st.weight_step)}${tau} · E ${count(st.expected_params)} · ${st.pruned.length} pruned${fixed} (${pruneTotals[f - 1]} in all)`;
  }

  function show(f) {
    heatmap.show(all[f]);
    slider.value = String(f);
    label.textContent = describe(f);
    const step = f === 0 ? 0 : f === last ? finalStep : replay.selections[f - 1].weight_step;
    expected.mark(step);
    losses.mark(step);
    root.dataset.frame = String(f);
  }

  let timer = null;
  function stop() {
    clearInterval(timer);
    timer = null;
    play.textContent = '▶ Play';
  }
  play.addEventListener('click', () => {
    if (timer) return stop();
    let f = Number(slider.value);
    if (f >= last) f = -1;
    play.textContent = '❚❚ Pause';
    const tick = () => {
      f += 1;
      show(f);
      if (f >= last) stop();
    };
    tick();
    timer = setInterval(tick, 650);
  });
  slider.addEventListener('input', () => {
    stop();
    show(Number(slider.value));
  });

  const skipped = replay.skipped_batches ? ` · ${replay.skipped_batches} batches skipped (non-finite loss)` : '';
  // The controls sit under the map they drive; the charts go where there is room.
  const about = [replay.task && `task ${replay.task}`, replay.mode && `mode ${replay.mode}`].filter(Boolean).join(' · ');
  const root = h('div', { class: 'timeline', 'data-testid': 'timeline', 'data-frames': all.length }, [
    h('div', { class: 'timeline-controls' }, [play, slider, h('span', { class: 'frame-count', text: `${K} selection steps${skipped}` })]),
    label,
    about ? h('div', { class: 'timeline-about', text: about }) : null,
    ...replay.notes.map((n) => h('div', { class: 'timeline-note', text: n })),
  ]);
  const charts = h('div', { class: 'timeline-charts' }, [
    h('figure', {}, [expected.svg, h('figcaption', { text: 'Expected trainable parameters against the budget' })]),
    h('figure', {}, [losses.svg, h('figcaption', { text: perStep ? 'Task loss per step' : 'Mean task loss per epoch' })]),
  ]);
  show(last);
  return { root, charts, show, frames: all.length, stop };
}

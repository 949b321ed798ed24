// The inspect view: open a peft_config.json (and its search_trace.json) that
// the command line exported, see every slot of its space on the layer map,
// its parameters per kind against the budget, replay the search, and put a
// second result beside it. Files are read in the page; nothing leaves it.

import { h, clear } from './dom.js';
import { count, percent, short, backboneLine } from './format.js';
import { rankScale } from './colors.js';
import { renderHeatmap, renderLegend, resultStates } from './heatmap.js';
import { renderBudget } from './budget.js';
import { renderTimeline } from './timeline.js';
import { wasm } from './wasm.js';

const CONFIG_FORMAT = 'bipeft-peft-config';

/** What a JSON file is: "config", "trace", or an Error naming the file. */
function classify(name, text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} is not JSON: ${e.message}`);
  }
  if (value && value.format === CONFIG_FORMAT) return 'config';
  if (Array.isArray(value) || (value && Array.isArray(value.events))) return 'trace';
  throw new Error(`${name} is neither a peft_config.json (format "${CONFIG_FORMAT}") nor a search_trace.json`);
}

async function readFiles(fileList) {
  const files = [];
  for (const file of fileList) {
    const text = await file.text();
    files.push({ name: file.name, text, kind: classify(file.name, text) });
  }
  return files;
}

/** Turns loaded files into results {name, config, trace}: one config with an optional trace, or two configs. */
function group(files, { allowPair }) {
  const configs = files.filter((f) => f.kind === 'config');
  const traces = files.filter((f) => f.kind === 'trace');
  if (configs.length === 1 && traces.length <= 1) return [{ config: configs[0], trace: traces[0] }];
  if (allowPair && configs.length === 2 && traces.length === 0) return configs.map((c) => ({ config: c }));
  if (!configs.length) throw new Error('Open a peft_config.json too: a search_trace.json is replayed over the configuration its search ended with.');
  throw new Error(
    `Open one peft_config.json (with its search_trace.json if you have it)${allowPair ? ', or two configurations to compare' : ''}; got ${configs.length} configurations and ${traces.length} traces.`,
  );
}

async function analyse(entry) {
  const w = await wasm();
  const withFile = (file, f) => {
    try {
      return f();
    } catch (e) {
      throw new Error(`${file}: ${e.message || e}`);
    }
  };
  const inspection = JSON.parse(withFile(entry.config.name, () => w.inspect_config(entry.config.text)));
  const replay = entry.trace
    ? JSON.parse(withFile(entry.trace.name, () => w.replay_trace(entry.config.text, entry.trace.text)))
    : null;
  return { title: entry.config.name, traceName: entry.trace && entry.trace.name, inspection, replay };
}

export function setupInspect(root) {
  const input = root.querySelector('[data-testid="config-input"]');
  const compare = root.querySelector('[data-testid="compare-input"]');
  const example = root.querySelector('[data-testid="load-example"]');
  const error = root.querySelector('[data-testid="inspect-error"]');
  const area = root.querySelector('[data-testid="results"]');
  const intro = root.querySelector('.intro');
  let results = [];
  let drawnWidth = 0; // the width the results were last drawn for

  function fail(e) {
    error.textContent = e.message || String(e);
    error.hidden = false;
  }

  function render() {
    clear(area);
    intro.hidden = results.length > 0;
    area.classList.toggle('two', results.length === 2);
    if (!results.length) return;
    const scale = rankScale(results.flatMap((r) => r.inspection.ranks));
    const available = area.clientWidth || 1100;
    drawnWidth = available;
    const width = results.length === 2 ? Math.floor((available - 24) / 2) - 34 : Math.min(available - 34, 1180);
    const scaleMax = results.length === 2 ? Math.max(...results.map((r) => Math.max(r.inspection.budget_params, r.inspection.trainable_params))) * 1.08 : undefined;
    results.forEach((r, i) => {
      area.append(panel(r, i, scale, width, scaleMax));
    });
  }

  function panel(result, index, scale, width, scaleMax) {
    const { inspection: ins, replay } = result;
    const kept = ins.slots.filter((x) => x.on).length;
    const close = h('button', {
      class: 'close',
      type: 'button',
      title: 'Close this result',
      'aria-label': 'Close this result',
      text: '×',
      onclick: () => {
        results.splice(index, 1);
        render();
      },
    });
    const stat = (value, label, testid) =>
      h('div', { class: 'stat', 'data-testid': testid }, [h('div', { class: 'stat-value', text: value }), h('div', { class: 'stat-label', text: label })]);
    const mapBox = h('div', { class: 'map-box' });
    const compact = results.length === 2;
    const heatmap = renderHeatmap(mapBox, ins, scale, { testid: index === 0 ? 'heatmap' : 'heatmap-b', width });
    heatmap.show(resultStates(ins));
    const mapWidth = Number(heatmap.svg.getAttribute('width'));
    // Beside the map when it leaves room (small models), under it otherwise.
    const sideWidth = compact || width - mapWidth < 460 ? width : Math.min(620, width - mapWidth - 40);
    const hasOnOff = ins.slots.some((x) => !x.ranks.length);
    // Two charts side by side where the column is wide enough.
    const chartWidth = compact ? Math.min(440, width) : sideWidth >= 680 ? Math.floor((sideWidth - 24) / 2) : Math.min(460, sideWidth);
    const timeline = replay ? renderTimeline(ins, replay, heatmap, { chartWidth }) : null;

    return h('article', { class: 'result', 'data-testid': index === 0 ? 'result-a' : 'result-b' }, [
      h('header', { class: 'result-head' }, [
        h('div', {}, [
          h('h2', {}, [result.title, result.traceName ? h('span', { class: 'muted', text: ` + ${result.traceName}` }) : null]),
          h('p', { class: 'sub', text: `${backboneLine(ins.backbone)} · space ${ins.space}` }),
        ]),
        close,
      ]),
      h('div', { class: 'stats' }, [
        stat(count(ins.trainable_params), `trainable parameters (${percent(ins.trainable_params / Math.max(1, ins.budget_params))} of the budget)`, 'stat-trainable'),
        stat(count(ins.budget_params), `budget (${percent(ins.budget_params / Math.max(1, ins.backbone.backbone_params))} of the backbone)`, 'stat-budget'),
        stat(`${kept} / ${ins.slots.length}`, 'modules kept / slots', 'stat-kept'),
        stat(short(ins.supernet_params), 'supernet (every slot at max rank)', 'stat-supernet'),
      ]),
      h('div', { class: 'result-body' }, [
        h('section', { class: 'block col-map', style: compact ? null : `width:${Math.max(mapWidth, 470)}px` }, [
          h('h3', { text: 'Layer map' }),
          mapBox,
          renderLegend(scale, { hasOnOff, searching: Boolean(replay) }),
          timeline ? h('div', { class: 'replay' }, [h('h3', { text: 'Search replay' }), timeline.root]) : null,
        ]),
        h('div', { class: 'col-side' }, [
          h('section', { class: 'block' }, [h('h3', { text: 'Parameters per kind' }), renderBudget(ins, { width: Math.min(sideWidth, 560), scaleMax })]),
          timeline ? h('section', { class: 'block' }, [h('h3', { text: 'Search progress' }), timeline.charts]) : null,
        ]),
      ]),
    ]);
  }

  async function load(fileList, { slot }) {
    error.hidden = true;
    try {
      const files = await readFiles(fileList);
      const groups = group(files, { allowPair: slot === 0 });
      const analysed = [];
      for (const g of groups) analysed.push(await analyse(g));
      if (analysed.length === 2) results = analysed;
      else if (slot === 0) results = [analysed[0], ...results.slice(1)];
      else results = [results[0], analysed[0]].filter(Boolean);
      render();
    } catch (e) {
      fail(e);
    }
  }

  input.addEventListener('change', () => {
    if (input.files.length) load(input.files, { slot: 0 }).finally(() => (input.value = ''));
  });
  compare.addEventListener('change', () => {
    if (compare.files.length) load(compare.files, { slot: results.length ? 1 : 0 }).finally(() => (compare.value = ''));
  });
  example.addEventListener('click', async () => {
    error.hidden = true;
    try {
      const files = [];
      for (const name of ['peft_config.json', 'search_trace.json']) {
        const response = await fetch(`examples/${name}`);
        if (!response.ok) throw new Error(`examples/${name}: HTTP ${response.status}`);
        files.push(new File([await response.text()], name, { type: 'application/json' }));
      }
      await load(files, { slot: 0 });
    } catch (e) {
      fail(e);
    }
  });

  // A search finished in the explore view opens here.
  document.addEventListener('bipeft:inspect', (e) => {
    document.querySelector('[data-testid="tab-inspect"]').click();
    load(e.detail, { slot: 0 });
  });

  // Files dropped anywhere on the view open like the file input's.
  root.addEventListener('dragover', (e) => {
    e.preventDefault();
    root.classList.add('dropping');
  });
  root.addEventListener('dragleave', () => root.classList.remove('dropping'));
  root.addEventListener('drop', (e) => {
    e.preventDefault();
    root.classList.remove('dropping');
    if (e.dataTransfer.files.length) load(e.dataTransfer.files, { slot: 0 });
  });

  // Redraw for a new width only: a height change (a full-page screenshot, a
  // console opening below) must not reset a replay in progress.
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!results.length || Math.abs(area.clientWidth - drawnWidth) < 40) return;
      drawnWidth = area.clientWidth;
      render();
    }, 200);
  });
}

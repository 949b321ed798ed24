// The explore view: pick a model, a task, a space and a budget, and watch the
// search run in this tab — on WebGPU where the browser has an adapter, on the
// CPU otherwise. The search runs in a worker (search-worker.js) so the page
// stays responsive; this file gathers the inputs and draws what the worker
// reports.

import { h, clear } from './dom.js';
import { count, short, percent, backboneLine } from './format.js';
import { rankScale } from './colors.js';
import { renderHeatmap, renderLegend, resultStates } from './heatmap.js';
import { lineChart } from './chart.js';
import { detectBackend, describeBackend } from './backend.js';
import { parseLabelled } from './csv.js';
import { wasm } from './wasm.js';

const MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json'];

export function setupExplore(root) {
  const $ = (id) => root.querySelector(`[data-testid="${id}"]`);
  const form = $('search-form');
  const backendBox = $('backend-status');
  const modelSummary = $('model-summary');
  const taskSummary = $('task-summary');
  const spaceSummary = $('space-summary');
  const start = $('search-start');
  const stopButton = $('search-stop');
  const error = $('explore-error');
  const status = $('search-status');

  const state = {
    backend: null, // {backend, detail}
    demo: null, // path of the demo model, when the site was built with one
    files: new Map(), // name → File, for "files from disk"
    modelConfig: null, // parsed config.json of the chosen model
    task: null, // {texts, labels, classes, counts}
    worker: null,
    searchAvailable: false,
  };

  const fail = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };

  // --- Backend ---------------------------------------------------------------
  Promise.all([detectBackend(), wasm().then((w) => (typeof w.search_backends === 'function' ? w.search_backends() : []))]).then(
    ([found, usable]) => {
      state.backend = found;
      let text = describeBackend(found);
      if (found.backend === 'webgpu' && !usable.includes('webgpu')) {
        // A build without burn-wgpu (only the host build lacks it).
        state.backend = { backend: 'cpu', detail: found.detail };
        text = `WebGPU adapter found (${found.detail}), but this build of the page has no WebGPU backend: the search runs on the CPU (burn-ndarray in WebAssembly).`;
      }
      backendBox.textContent = text;
      backendBox.classList.add(found.backend === 'webgpu' ? 'gpu' : 'cpu');
      backendBox.dataset.backend = found.backend;
    },
  );

  // --- Model -----------------------------------------------------------------
  const modelChoice = () => form.querySelector('input[name="model"]:checked')?.value;
  fetch('build.json')
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}))
    .then((build) => {
      state.demo = build.demo_model || null;
      const demoRadio = $('model-demo');
      if (state.demo) {
        demoRadio.checked = true;
        $('demo-model-name').textContent = '(shipped with this site)';
        refreshModel();
      } else {
        demoRadio.disabled = true;
        $('demo-model-name').textContent = '(not in this build: www/build.sh --demo-model DIR adds one)';
        $('model-files-choice').checked = true;
      }
    });

  async function refreshModel() {
    state.modelConfig = null;
    modelSummary.textContent = '';
    try {
      let text;
      if (modelChoice() === 'demo' && state.demo) {
        const r = await fetch(`${state.demo}config.json`);
        if (!r.ok) throw new Error(`the demo model's config.json: HTTP ${r.status}`);
        text = await r.text();
      } else {
        const missing = MODEL_FILES.filter((n) => !state.files.has(n));
        if (missing.length === MODEL_FILES.length) return;
        if (missing.length) modelSummary.textContent = `Still missing: ${missing.join(', ')}. `;
        if (!state.files.has('config.json')) return;
        text = await state.files.get('config.json').text();
      }
      const config = JSON.parse(text);
      state.modelConfig = config;
      const layers = config.num_hidden_layers ?? config.num_layers;
      const width = config.hidden_size ?? config.d_model;
      modelSummary.textContent += `${config.model_type || 'unknown model_type'} · ${layers ?? '?'} layers · width ${width ?? '?'}`;
    } catch (e) {
      modelSummary.textContent = `config.json: ${e.message || e}`;
    }
    refreshSpace();
  }

  $('model-files').addEventListener('change', (e) => {
    for (const file of e.target.files) state.files.set(file.name, file);
    $('model-files-choice').checked = true;
    refreshModel();
  });
  for (const radio of form.querySelectorAll('input[name="model"]')) radio.addEventListener('change', refreshModel);

  // --- Task ------------------------------------------------------------------
  const taskChoice = () => form.querySelector('input[name="task"]:checked')?.value;
  let builtin = null;
  async function refreshTask() {
    state.task = null;
    taskSummary.textContent = '';
    try {
      let text;
      if (taskChoice() === 'builtin') {
        if (!builtin) {
          const r = await fetch('data/sentiment.tsv');
          if (!r.ok) throw new Error(`data/sentiment.tsv: HTTP ${r.status}`);
          builtin = await r.text();
        }
        text = builtin;
      } else {
        text = $('task-text').value;
        if (!text.trim()) return;
      }
      const task = parseLabelled(text);
      task.text = text;
      task.file = taskChoice() === 'builtin' ? 'sentiment.tsv' : task.separator === '\t' ? 'data.tsv' : 'data.csv';
      state.task = task;
      const split = task.classes.map((c, i) => `${c}: ${task.counts[i]}`).join(', ');
      const summary = `${task.texts.length} examples · ${task.classes.length} classes (${split})`;
      taskSummary.textContent = summary;
      if (taskChoice() === 'builtin') $('builtin-size').textContent = `(SST-2, ${task.texts.length} phrases)`;
    } catch (e) {
      taskSummary.textContent = `The data: ${e.message || e}`;
    }
  }
  for (const radio of form.querySelectorAll('input[name="task"]')) radio.addEventListener('change', refreshTask);
  $('task-text').addEventListener('input', () => {
    $('task-csv').checked = true;
    refreshTask();
  });
  $('task-file').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    $('task-text').value = await file.text();
    $('task-csv').checked = true;
    refreshTask();
  });
  refreshTask();

  // --- Space and budget ------------------------------------------------------
  function budgetParams(backboneParams) {
    const value = Number($('budget-value').value);
    if (!(value > 0)) return null;
    return $('budget-unit').value === 'percent' ? Math.floor((value / 100) * backboneParams) : Math.floor(value);
  }

  async function refreshSpace() {
    clear(spaceSummary);
    if (!state.modelConfig) return;
    const w = await wasm();
    if (typeof w.space_preview !== 'function') return;
    try {
      const preview = JSON.parse(w.space_preview(JSON.stringify(state.modelConfig), $('space-select').value));
      const budget = budgetParams(preview.backbone.backbone_params);
      spaceSummary.append(
        `${preview.slots.length} slots · supernet ${short(preview.supernet_params)} parameters (${percent(preview.supernet_params / preview.backbone.backbone_params)} of the backbone)`,
        budget !== null ? ` · budget ${count(budget)}` : '',
      );
      drawMap(preview, preview.slots.map(() => ({ state: 'searching', rank: null })));
    } catch (e) {
      spaceSummary.textContent = e.message || String(e);
    }
  }
  $('space-select').addEventListener('change', refreshSpace);
  $('budget-value').addEventListener('input', refreshSpace);
  $('budget-unit').addEventListener('change', refreshSpace);

  // --- Live display ----------------------------------------------------------
  let map = null;
  let live = null;
  function drawMap(inspection, states) {
    const scale = rankScale(inspection.ranks);
    const box = $('live-map');
    $('live-map-block').hidden = false;
    map = renderHeatmap(box, inspection, scale, { testid: 'live-heatmap', width: Math.max(480, box.clientWidth || 760) });
    map.show(states);
    clear($('live-legend')).append(renderLegend(scale, { hasOnOff: inspection.slots.some((x) => !x.ranks.length), searching: true }));
  }

  function drawCharts() {
    const charts = clear($('live-charts'));
    const loss = lineChart({
      width: 400,
      testid: 'live-loss',
      xLabel: 'weight step',
      yFormat: (v) => v.toFixed(2),
      series: [{ label: 'weight loss', color: '#59a14f', points: live.loss }],
    });
    const expected = lineChart({
      width: 400,
      testid: 'live-expected',
      xLabel: 'weight step',
      series: [{ label: 'expected parameters E', color: '#4e79a7', points: live.expected }],
      lines: [{ y: live.budget, label: `budget ${short(live.budget)}`, color: '#333a44' }],
    });
    charts.append(
      h('figure', {}, [loss.svg, h('figcaption', { text: 'Task loss' })]),
      h('figure', {}, [expected.svg, h('figcaption', { text: 'Expected trainable parameters against the budget' })]),
    );
  }

  function drawStats(report) {
    const stat = (value, label) => h('div', { class: 'stat' }, [h('div', { class: 'stat-value', text: value }), h('div', { class: 'stat-label', text: label })]);
    clear($('live-stats')).append(
      stat(`${report.epoch + 1} / ${live.epochs}`, 'epoch'),
      stat(count(report.step + 1), 'weight steps'),
      stat(report.tau.toFixed(2), 'temperature τ'),
      stat(report.expected_params == null ? '–' : short(report.expected_params), `expected parameters (budget ${short(live.budget)})`),
      stat(`${live.pruned} / ${live.inspection.slots.length}`, 'slots pruned'),
      stat(String(live.fixed), 'ranks fixed'),
    );
  }

  // "first step 12.0 s, then 310 ms a step": on WebGPU the first steps
  // compile the shaders, so the two differ a lot.
  function stepTimes(ms) {
    if (!ms || !ms.length) return '';
    const time = (t) => (t >= 1000 ? `${(t / 1000).toFixed(1)} s` : `${Math.round(t)} ms`);
    const rest = ms.slice(1).sort((a, b) => a - b);
    const median = rest.length ? rest[Math.floor(rest.length / 2)] : null;
    return ` · first step ${time(ms[0])}${median == null ? '' : `, then ${time(median)} a step (median)`}`;
  }

  function onMessage(message) {
    switch (message.type) {
      case 'status':
        status.textContent = message.text;
        break;
      case 'started': {
        live = { ...live, backend: message.backend, inspection: message.inspection, budget: message.inspection.budget_params, loss: [], expected: [], stepMs: [], pruned: 0, fixed: 0 };
        live.states = message.inspection.slots.map(() => ({ state: 'searching', rank: null }));
        drawMap(message.inspection, live.states);
        const gpu = message.backend === 'wgpu';
        const badge = $('search-backend');
        badge.dataset.backend = message.backend;
        badge.className = `live-backend ${gpu ? 'gpu' : 'cpu'}`;
        badge.textContent = gpu ? 'burn-wgpu · WebGPU' : 'burn-ndarray · CPU fallback';
        badge.hidden = false;
        status.textContent = `Searching on ${gpu ? 'WebGPU (burn-wgpu)' : 'the CPU (burn-ndarray, the fallback without WebGPU)'} · ${backboneLine(message.inspection.backbone)} · budget ${count(live.budget)}${gpu && !state.gpuWarm ? ' · the first steps compile GPU shaders, which takes a while on a software adapter' : ''}`;
        root.dataset.search = 'running';
        break;
      }
      case 'step': {
        if (live.backend === 'wgpu') state.gpuWarm = true;
        const x = message.step + 1;
        if (message.weight_loss != null) live.loss.push([x, message.weight_loss]);
        if (message.expected_params != null) live.expected.push([x, message.expected_params]);
        live.steps = x;
        live.stepMs.push(message.ms);
        drawStats(message);
        drawCharts();
        break;
      }
      case 'selection': {
        for (const i of message.pruned) live.states[i] = { state: 'pruned', rank: 0 };
        for (const f of message.fixed) live.states[f.slot] = { state: 'fixed', rank: f.rank };
        live.pruned = live.states.filter((x) => x.state === 'pruned').length;
        live.fixed = live.states.filter((x) => x.state === 'fixed').length;
        map.show(live.states);
        break;
      }
      case 'done': {
        const inspection = message.inspection;
        map.show(resultStates(inspection));
        const kept = inspection.slots.filter((x) => x.on).length;
        status.textContent = `${message.stopped ? 'Stopped' : 'Done'} after ${count(live.steps || 0)} steps · ${kept} modules, ${count(inspection.trainable_params)} trainable parameters of a budget of ${count(inspection.budget_params)}${stepTimes(live.stepMs)}`;
        status.dataset.stepMs = (live.stepMs || []).map(Math.round).join(' ');
        const link = (name, text) =>
          h('a', { class: 'button', download: name, href: URL.createObjectURL(new Blob([text], { type: 'application/json' })), text: `Save ${name}`, 'data-testid': `save-${name}` });
        const open = h('button', {
          class: 'button primary',
          type: 'button',
          'data-testid': 'open-result',
          text: 'Open in the inspect view',
          onclick: () =>
            document.dispatchEvent(
              new CustomEvent('bipeft:inspect', {
                detail: [
                  new File([message.config_json], 'peft_config.json', { type: 'application/json' }),
                  new File([message.trace_json], 'search_trace.json', { type: 'application/json' }),
                ],
              }),
            ),
        });
        clear($('search-result')).append(h('div', { class: 'actions' }, [open, link('peft_config.json', message.config_json), link('search_trace.json', message.trace_json)]));
        root.dataset.search = 'done';
        finish();
        break;
      }
      case 'error':
        fail(message.message);
        status.textContent = 'The search stopped with an error.';
        root.dataset.search = 'failed';
        // A wasm instance that failed may be left in any state: start afresh next time.
        if (state.worker) state.worker.terminate();
        state.worker = null;
        state.gpuWarm = false;
        if (message.webgpuFailed) {
          state.backend = { backend: 'cpu', detail: 'WebGPU could not be set up.' };
          backendBox.textContent = describeBackend(state.backend);
          backendBox.className = 'backend cpu';
          backendBox.dataset.backend = 'cpu';
        }
        finish();
        break;
      default:
        break;
    }
  }

  // The worker stays for the next search: its wasm module, and on WebGPU its
  // device and compiled shaders, are ready then.
  function finish() {
    start.disabled = !state.searchAvailable;
    stopButton.disabled = true;
  }

  // --- Start and stop --------------------------------------------------------
  async function modelBytes() {
    if (modelChoice() === 'demo' && state.demo) {
      const out = {};
      for (const name of MODEL_FILES) {
        const r = await fetch(`${state.demo}${name}`);
        if (!r.ok) throw new Error(`the demo model's ${name}: HTTP ${r.status}`);
        out[name] = await r.arrayBuffer();
      }
      return out;
    }
    const missing = MODEL_FILES.filter((n) => !state.files.has(n));
    if (missing.length) throw new Error(`Pick the model's ${missing.join(', ')} (a Hugging Face folder's files).`);
    const out = {};
    for (const name of MODEL_FILES) out[name] = await state.files.get(name).arrayBuffer();
    return out;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fail('');
    try {
      if (!state.backend) state.backend = await detectBackend();
      if (!state.task) throw new Error('Choose a task: the built-in sentiment set, or a CSV with text and label columns.');
      const epochs = Number($('epochs').value);
      const batch = Number($('batch-size').value);
      if (!(epochs >= 1)) throw new Error('Epochs must be 1 or more.');
      if (!(batch >= 1)) throw new Error('The batch size must be 1 or more.');
      const value = Number($('budget-value').value);
      if (!(value > 0)) throw new Error('The budget must be a positive number.');
      if (!state.task.header) throw new Error('The data needs a header line naming its columns (text,label).');
      const number = (id) => Number($(id).value);
      const files = await modelBytes();
      const settings = {
        space: $('space-select').value,
        budget: $('budget-unit').value === 'percent' ? { percent: value } : { params: Math.floor(value) },
        epochs,
        batch_size: batch,
        max_length: number('max-length'),
        seed: number('seed'),
        selection_start_epoch: number('selection-start'),
        selection_steps: number('selection-steps'),
      };
      const task = { file: state.task.file, text: state.task.text, text_column: state.task.header.text, label_column: state.task.header.label };
      live = { epochs };
      start.disabled = true;
      stopButton.disabled = false;
      status.textContent = 'Loading the model…';
      if (!state.worker) {
        const worker = new Worker(new URL('./search-worker.js', import.meta.url), { type: 'module' });
        worker.onmessage = (m) => onMessage(m.data);
        worker.onerror = (m) => onMessage({ type: 'error', message: m.message || 'the search worker failed' });
        state.worker = worker;
      }
      clear($('search-result'));
      $('search-backend').hidden = true;
      state.worker.postMessage({ type: 'start', backend: state.backend.backend, files, task, settings }, Object.values(files));
    } catch (err) {
      fail(err.message || String(err));
      finish();
    }
  });
  stopButton.addEventListener('click', () => {
    if (state.worker) state.worker.postMessage({ type: 'stop' });
    stopButton.disabled = true;
    status.textContent = 'Stopping after this step…';
    root.dataset.search = 'stopping';
  });

  // The search entry point is part of the wasm module; without it the form
  // still previews the space, and says why it cannot start.
  start.disabled = true;
  wasm().then((w) => {
    state.searchAvailable = typeof w.WebSearch === 'function';
    start.disabled = !state.searchAvailable;
    if (!state.searchAvailable) {
      status.textContent = 'This build of the page has no search entry point (bipeft-web was built without the in-browser search); the setup above still previews the space.';
    }
  });
}

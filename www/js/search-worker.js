// Runs searches off the page's main thread. The page posts
//   {type: "start", backend: "webgpu" | "cpu", files: {config.json, model.safetensors, tokenizer.json}, task, settings}
// and may post {type: "stop"}; this worker answers with
//   {type: "status", text}                   what it is doing before the first step
//   {type: "started", backend, inspection}   backend "wgpu" or "ndarray"; the space, every slot still searched
//   {type: "step", ms, epoch, step, tau, weight_loss, arch_loss, expected_params, live_modules, fixed_ranks}
//   {type: "selection", pruned: [slot], fixed: [{slot, rank}]}
//   {type: "done", stopped, inspection, config_json, trace_json}
//   {type: "error", message, webgpuFailed}   webgpuFailed: WebGPU could not be set up here
// The wasm search advances one weight step per awaited call and returns to
// this loop, which yields to the event loop so that a "stop" is seen between
// steps; a stopped search still ends in the configuration it had reached.
//
// The page keeps one worker for all its searches: the wasm module and, on
// WebGPU, the device (set up once per wasm instance) and its compiled shaders
// stay, so only the first search pays for shader compilation.

import init, * as bipeft from '../pkg/bipeft_web.js';

let stopping = false;
let loaded = null;

const yieldNow = () => new Promise((resolve) => setTimeout(resolve, 0));

async function run({ backend, files, task, settings }) {
  stopping = false;
  if (!loaded) loaded = init();
  await loaded;
  if (typeof bipeft.WebSearch !== 'function') {
    throw new Error('this build of bipeft-web has no search entry point');
  }
  if (backend === 'webgpu') {
    postMessage({ type: 'status', text: 'Setting up WebGPU…' });
    try {
      await bipeft.init_webgpu();
    } catch (e) {
      const failed = new Error(`WebGPU could not be set up in the search worker (${e.message || e}). Start again: the search will run on the CPU.`);
      failed.webgpuFailed = true;
      throw failed;
    }
  }
  const bytes = (name) => new Uint8Array(files[name]);
  const search = bipeft.WebSearch.create(
    bytes('config.json'),
    bytes('model.safetensors'),
    bytes('tokenizer.json'),
    JSON.stringify(task),
    JSON.stringify(settings),
    backend,
  );
  try {
    postMessage({ type: 'started', backend: search.backend(), inspection: JSON.parse(search.inspection()) });
    await yieldNow();
    for (;;) {
      if (stopping) break;
      const t0 = performance.now();
      const report = JSON.parse(await search.step());
      if (report.progress) postMessage({ type: 'step', ms: performance.now() - t0, ...report.progress });
      if (report.selection) postMessage({ type: 'selection', ...report.selection });
      if (report.finished) break;
      await yieldNow();
    }
    // A stopped search still ends in a configuration: the state it reached.
    const { config_json: configJson, trace_json: traceJson } = JSON.parse(await search.finish());
    postMessage({
      type: 'done',
      stopped: stopping,
      inspection: JSON.parse(bipeft.inspect_config(configJson)),
      config_json: configJson,
      trace_json: traceJson,
    });
  } finally {
    search.free();
  }
}

self.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'stop') {
    stopping = true;
  } else if (message.type === 'start') {
    run(message).catch((e) => postMessage({ type: 'error', message: e.message || String(e), webgpuFailed: Boolean(e.webgpuFailed) }));
  }
};

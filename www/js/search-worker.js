// Runs a search off the page's main thread. The page posts
//   {type: "start", backend, files: {config.json, model.safetensors, tokenizer.json}, task, settings}
// and may post {type: "stop"}; this worker answers with
//   {type: "started", backend, inspection}   the space, every slot still searched
//   {type: "step", epoch, step, tau, weight_loss, arch_loss, expected_params, live_modules, fixed_ranks}
//   {type: "selection", pruned: [slot], fixed: [{slot, rank}]}
//   {type: "done", stopped, inspection, config_json, trace_json}
//   {type: "error", message}
// The wasm search advances one weight step per call and returns to this
// loop, which yields to the event loop so that a "stop" is seen between steps;
// a stopped search still ends in the configuration it had reached.

import init, * as bipeft from '../pkg/bipeft_web.js';

let stopping = false;

const yieldNow = () => new Promise((resolve) => setTimeout(resolve, 0));

async function run({ files, task, settings }) {
  await init();
  if (typeof bipeft.WebSearch !== 'function') {
    throw new Error('this build of bipeft-web has no search entry point');
  }
  const bytes = (name) => new Uint8Array(files[name]);
  const search = bipeft.WebSearch.create(
    bytes('config.json'),
    bytes('model.safetensors'),
    bytes('tokenizer.json'),
    JSON.stringify(task),
    JSON.stringify(settings),
  );
  postMessage({ type: 'started', backend: search.backend(), inspection: JSON.parse(search.inspection()) });
  await yieldNow();
  for (;;) {
    if (stopping) break;
    const report = JSON.parse(await search.step());
    if (report.progress) postMessage({ type: 'step', ...report.progress });
    if (report.selection) postMessage({ type: 'selection', ...report.selection });
    if (report.finished) break;
    await yieldNow();
  }
  // A stopped search still ends in a configuration: the state it reached.
  const configJson = search.config_json();
  postMessage({
    type: 'done',
    stopped: stopping,
    inspection: JSON.parse(bipeft.inspect_config(configJson)),
    config_json: configJson,
    trace_json: search.trace_json(),
  });
  search.free();
}

self.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'stop') {
    stopping = true;
  } else if (message.type === 'start') {
    run(message).catch((e) => postMessage({ type: 'error', message: e.message || String(e) }));
  }
};

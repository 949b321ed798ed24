// Loads the wasm module once per page (the bindings come from
// `wasm-bindgen --target web`, built into ../pkg by www/build.sh).

import init, * as bindings from '../pkg/bipeft_web.js';

let ready = null;

/** The initialised bindings: `inspect_config`, `replay_trace`, `version`, ... */
export function wasm() {
  if (!ready) ready = init().then(() => bindings);
  return ready;
}

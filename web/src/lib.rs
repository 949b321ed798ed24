//! bipeft in the browser: the wasm-bindgen surface the static site (`www/`)
//! calls. The logic lives in `bipeft-core`; this crate turns its results into
//! JSON for the page and its errors into JavaScript exceptions.

pub mod inspect;
pub mod naming;

use wasm_bindgen::prelude::*;

/// The crate version, shown in the page footer.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Routes Rust panics to the browser console with their message, once per page.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Reads a `peft_config.json` and returns, as JSON, every slot of its space
/// with what the configuration chose there, the totals per kind, the budget
/// and the supernet's size ([`inspect::Inspection`]). Throws an `Error` whose
/// message says what is wrong with the file.
#[wasm_bindgen]
pub fn inspect_config(config_json: &str) -> Result<String, JsError> {
    to_json(inspect::inspect_config(config_json))
}

/// Reads a `search_trace.json` together with the `peft_config.json` its search
/// ended with and returns the selection steps to replay, with slots as indices
/// into `inspect_config`'s `slots` ([`inspect::Replay`]).
#[wasm_bindgen]
pub fn replay_trace(config_json: &str, trace_json: &str) -> Result<String, JsError> {
    to_json(inspect::replay_trace(config_json, trace_json))
}

/// Every slot of a built-in space (`s1`, `s2`, `lora`) on the backbone of a
/// Hugging Face `config.json`, nothing kept: the layer map before a search,
/// in the same JSON as `inspect_config`.
#[wasm_bindgen]
pub fn space_preview(model_config_json: &str, space: &str) -> Result<String, JsError> {
    to_json(inspect::preview_space(model_config_json, space))
}

fn to_json<T: serde::Serialize>(result: bipeft_core::Result<T>) -> Result<String, JsError> {
    let value = result.map_err(|e| JsError::new(&e.to_string()))?;
    serde_json::to_string(&value).map_err(|e| JsError::new(&e.to_string()))
}

//! bipeft in the browser: the wasm-bindgen surface the static site (`www/`)
//! calls. The logic lives in `bipeft-core`; this crate turns its results into
//! JSON for the page and its errors into JavaScript exceptions.

pub mod inspect;
pub mod naming;
pub mod search;

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

/// Which backends the in-browser search can run on. The core's search reads
/// tensors back synchronously, which WebGPU forbids, so for now only the CPU.
#[wasm_bindgen]
pub fn search_backends() -> Vec<String> {
    vec!["cpu".to_string()]
}

/// A search running in the page (in a worker): create it, call `step` until
/// it reports `finished`, then take `config_json` and `trace_json`.
#[wasm_bindgen]
pub struct WebSearch {
    session: search::Session,
}

#[wasm_bindgen]
impl WebSearch {
    /// Reads the model (`config.json`, `model.safetensors`, `tokenizer.json`
    /// bytes) and the task (JSON: `{file, text, text_column, label_column}`)
    /// and sets up a search with `settings` (JSON: `{space, budget: {params} |
    /// {percent}, epochs, batch_size, max_length, ...}`). Throws with the reason
    /// when an input is unusable.
    pub fn create(
        config_json: &[u8],
        weights: Vec<u8>,
        tokenizer_json: &[u8],
        task_json: &str,
        settings_json: &str,
    ) -> Result<WebSearch, JsError> {
        let task: search::TaskInput =
            serde_json::from_str(task_json).map_err(|e| JsError::new(&format!("the task: {e}")))?;
        let settings: search::Settings = serde_json::from_str(settings_json)
            .map_err(|e| JsError::new(&format!("the search settings: {e}")))?;
        let session = search::Session::new(config_json, weights, tokenizer_json, &task, settings)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(WebSearch { session })
    }

    /// The backend the search runs on.
    pub fn backend(&self) -> String {
        "cpu".to_string()
    }

    /// The space the search starts from, as `inspect_config` lays one out.
    pub fn inspection(&self) -> Result<String, JsError> {
        let session = &self.session;
        to_json(Ok(inspect::lay_out_space(
            session.catalogue(),
            session.budget(),
        )))
    }

    /// One architecture and one weight step; JSON `{progress, selection, finished}`.
    pub fn step(&mut self) -> Result<String, JsError> {
        to_json(self.session.step())
    }

    /// The discrete configuration within the budget (ends the search).
    pub fn config_json(&mut self) -> Result<String, JsError> {
        let (config, _) = self
            .session
            .finish()
            .map_err(|e| JsError::new(&e.to_string()))?;
        config.to_json().map_err(|e| JsError::new(&e.to_string()))
    }

    /// The trace, in `bipeft search`'s format (ends the search).
    pub fn trace_json(&mut self) -> Result<String, JsError> {
        let (_, trace) = self
            .session
            .finish()
            .map_err(|e| JsError::new(&e.to_string()))?;
        serde_json::to_string_pretty(trace).map_err(|e| JsError::new(&e.to_string()))
    }
}

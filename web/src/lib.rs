//! bipeft in the browser: the wasm-bindgen surface the static site (`www/`)
//! calls. The logic lives in `bipeft-core`; this crate turns its results into
//! JSON for the page and its errors into JavaScript exceptions.

pub mod inspect;
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

/// Which backends the in-browser search can run on: `webgpu` (burn-wgpu) in
/// the browser build, and always `cpu` (burn-ndarray compiled into the wasm).
#[wasm_bindgen]
pub fn search_backends() -> Vec<String> {
    let mut backends = vec!["cpu".to_string()];
    if cfg!(target_arch = "wasm32") {
        backends.insert(0, "webgpu".to_string());
    }
    backends
}

/// Sets burn-wgpu up on the browser's WebGPU adapter (autotune off, as the
/// build has it). Call it once per wasm instance, after JavaScript found an
/// adapter and before `WebSearch.create(..., "webgpu")`; later calls return
/// at once (a second set-up would panic inside wgpu).
#[wasm_bindgen]
pub async fn init_webgpu() -> Result<(), JsError> {
    webgpu::init().await
}

#[cfg(target_arch = "wasm32")]
mod webgpu {
    use std::cell::Cell;

    use burn::backend::wgpu::{graphics::WebGpu, init_setup_async, RuntimeOptions, WgpuDevice};
    use wasm_bindgen::JsError;

    #[derive(Clone, Copy, PartialEq)]
    enum State {
        None,
        Starting,
        Ready,
    }

    thread_local! {
        static STATE: Cell<State> = const { Cell::new(State::None) };
    }

    pub async fn init() -> Result<(), JsError> {
        match STATE.get() {
            State::Ready => return Ok(()),
            State::Starting => return Err(JsError::new("WebGPU is already being set up")),
            State::None => {}
        }
        STATE.set(State::Starting);
        init_setup_async::<WebGpu>(&WgpuDevice::default(), RuntimeOptions::default()).await;
        STATE.set(State::Ready);
        Ok(())
    }

    pub fn ready() -> bool {
        STATE.get() == State::Ready
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod webgpu {
    use wasm_bindgen::JsError;

    pub async fn init() -> Result<(), JsError> {
        Err(JsError::new("WebGPU exists only in the browser build"))
    }
}

/// A search on one of the two backends (boxed: the sessions differ in size).
enum Running {
    Cpu(Box<search::Session<search::CpuBackend>>),
    #[cfg(target_arch = "wasm32")]
    Gpu(Box<search::Session<search::GpuBackend>>),
}

impl Running {
    fn catalogue(&self) -> &bipeft_core::space::Catalogue {
        match self {
            Running::Cpu(s) => s.catalogue(),
            #[cfg(target_arch = "wasm32")]
            Running::Gpu(s) => s.catalogue(),
        }
    }

    fn budget(&self) -> u64 {
        match self {
            Running::Cpu(s) => s.budget(),
            #[cfg(target_arch = "wasm32")]
            Running::Gpu(s) => s.budget(),
        }
    }

    async fn step(&mut self) -> bipeft_core::Result<search::StepReport> {
        match self {
            Running::Cpu(s) => s.step().await,
            #[cfg(target_arch = "wasm32")]
            Running::Gpu(s) => s.step().await,
        }
    }

    /// The configuration and the trace, as JSON text.
    async fn finish(&mut self) -> bipeft_core::Result<(String, String)> {
        let (config, trace) = match self {
            Running::Cpu(s) => s.finish().await?,
            #[cfg(target_arch = "wasm32")]
            Running::Gpu(s) => s.finish().await?,
        };
        let trace = serde_json::to_string_pretty(trace)
            .map_err(|e| bipeft_core::Error::InvalidInput(e.to_string()))?;
        Ok((config.to_json()?, trace))
    }
}

/// A search running in the page (in a worker): create it, await `step` until
/// it reports `finished`, then await `finish` for the configuration and the
/// trace.
#[wasm_bindgen]
pub struct WebSearch {
    running: Running,
    backend: &'static str,
}

#[wasm_bindgen]
impl WebSearch {
    /// Reads the model (`config.json`, `model.safetensors`, `tokenizer.json`
    /// bytes) and the task (JSON: `{file, text, text_column, label_column}`)
    /// and sets up a search with `settings` (JSON: `{space, budget: {params} |
    /// {percent}, epochs, batch_size, max_length, ...}`) on `backend`
    /// (`webgpu` after `init_webgpu`, or `cpu`). Throws with the reason when
    /// an input is unusable.
    pub fn create(
        config_json: &[u8],
        weights: Vec<u8>,
        tokenizer_json: &[u8],
        task_json: &str,
        settings_json: &str,
        backend: &str,
    ) -> Result<WebSearch, JsError> {
        let task: search::TaskInput =
            serde_json::from_str(task_json).map_err(|e| JsError::new(&format!("the task: {e}")))?;
        let settings: search::Settings = serde_json::from_str(settings_json)
            .map_err(|e| JsError::new(&format!("the search settings: {e}")))?;
        let error = |e: bipeft_core::Error| JsError::new(&e.to_string());
        let (running, name) = match backend {
            "cpu" => (
                Running::Cpu(Box::new(
                    search::Session::new(
                        config_json,
                        weights,
                        tokenizer_json,
                        &task,
                        settings,
                        Default::default(),
                    )
                    .map_err(error)?,
                )),
                "ndarray",
            ),
            #[cfg(target_arch = "wasm32")]
            "webgpu" if webgpu::ready() => (
                Running::Gpu(Box::new(
                    search::Session::new(
                        config_json,
                        weights,
                        tokenizer_json,
                        &task,
                        // One input shape for every step: kernels compile once.
                        search::Settings {
                            fixed_length: true,
                            ..settings
                        },
                        Default::default(),
                    )
                    .map_err(error)?,
                )),
                "wgpu",
            ),
            #[cfg(target_arch = "wasm32")]
            "webgpu" => {
                return Err(JsError::new(
                    "WebGPU is not set up in this page: await init_webgpu() first",
                ))
            }
            other => {
                return Err(JsError::new(&format!(
                    "unknown backend `{other}`; this build has {}",
                    search_backends().join(", ")
                )))
            }
        };
        Ok(WebSearch {
            running,
            backend: name,
        })
    }

    /// The burn backend the search runs on: `wgpu` (WebGPU) or `ndarray` (CPU).
    pub fn backend(&self) -> String {
        self.backend.to_string()
    }

    /// The space the search starts from, as `inspect_config` lays one out.
    pub fn inspection(&self) -> Result<String, JsError> {
        to_json(Ok(inspect::lay_out_space(
            self.running.catalogue(),
            self.running.budget(),
        )))
    }

    /// One architecture and one weight step; JSON `{progress, selection, finished}`.
    pub async fn step(&mut self) -> Result<String, JsError> {
        to_json(self.running.step().await)
    }

    /// Ends the search: JSON `{config_json, trace_json}`, the discrete
    /// configuration within the budget and the trace in `bipeft search`'s
    /// formats (as text, ready to save).
    pub async fn finish(&mut self) -> Result<String, JsError> {
        let (config_json, trace_json) = self
            .running
            .finish()
            .await
            .map_err(|e| JsError::new(&e.to_string()))?;
        to_json(Ok(
            serde_json::json!({"config_json": config_json, "trace_json": trace_json}),
        ))
    }
}

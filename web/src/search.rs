//! The search in the browser, one weight step per call, so that the page's
//! worker can report progress and hear "stop" between steps.
//!
//! Only the page's inputs are read here (the model's bytes, one CSV / TSV
//! file, the settings as JSON): the search itself is core's
//! [`SearchSession`], the very one `bipeft search` runs, and its trace has
//! the command line's shape, so the page's inspect view reads both alike.
//!
//! It is generic over the backend: the page runs it on burn-wgpu where the
//! browser gives a WebGPU adapter and on burn-ndarray compiled into the wasm
//! otherwise. Every host read of the core's loop is awaited, which WebGPU
//! requires, so [`Session::step`] and [`Session::finish`] are async.

use bipeft_core::data::{CustomKind, CustomTask, Part, SplitOptions, TaskData, TaskSource};
use bipeft_core::experiment::{Budget as CoreBudget, Method};
use bipeft_core::loader::ModelFiles;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::search::SearchEvent;
use bipeft_core::session::{
    SearchOptions, SearchResult, SearchSession, SearchSpec, SearchTrace, SelectionOptions,
    StepRecord,
};
use bipeft_core::space::{presets, Catalogue};
use bipeft_core::train::model::Backbone;
use bipeft_core::{Error, Result};
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::inspect::FixedView;

/// The CPU fallback of the in-browser search (and the host tests' backend).
pub type CpuBackend = Autodiff<NdArray<f32>>;

/// The WebGPU backend of the in-browser search (burn-wgpu without autotune,
/// which misbehaves on software adapters).
#[cfg(target_arch = "wasm32")]
pub type GpuBackend = Autodiff<burn::backend::Wgpu<f32, i32>>;

/// A task as the page sends it: one CSV / TSV file with a header line.
#[derive(Clone, Debug, Deserialize)]
pub struct TaskInput {
    /// The file's name; its extension (`.csv`, `.tsv`) gives the format.
    pub file: String,
    pub text: String,
    pub text_column: String,
    pub label_column: String,
}

/// A budget as the page sends it: a parameter count or a share of the backbone.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    Params(u64),
    Percent(f64),
}

impl Budget {
    /// Core's budget, checked as `--budget` is.
    fn to_core(&self) -> Result<CoreBudget> {
        match *self {
            Budget::Params(n) => CoreBudget::parse(&n.to_string()),
            Budget::Percent(p) => CoreBudget::parse(&format!("{p}%")),
        }
    }
}

/// The page's search settings; the defaults suit a short search in a tab.
#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    /// `s1`, `s2` or `lora`.
    pub space: String,
    pub budget: Budget,
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// Keep at most this many training examples (a seeded subset).
    #[serde(default)]
    pub max_train_examples: Option<usize>,
    /// First (0-based) epoch of early selection.
    #[serde(default = "default_selection_start")]
    pub selection_start_epoch: usize,
    /// T: selection steps from the expected size to the budget.
    #[serde(default = "default_selection_steps")]
    pub selection_steps: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Pad every batch to `max_length` instead of its longest item: one input
    /// shape for every step, so a GPU backend compiles its kernels once
    /// rather than again for each new length (the page sets it on WebGPU).
    #[serde(default)]
    pub fixed_length: bool,
}

fn default_epochs() -> usize {
    3
}
fn default_batch_size() -> usize {
    16
}
fn default_max_length() -> usize {
    64
}
fn default_selection_start() -> usize {
    1
}
fn default_selection_steps() -> usize {
    12
}
fn default_seed() -> u64 {
    42
}

/// What a selection step decided, in catalogue slot indices.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SelectionReport {
    pub pruned: Vec<usize>,
    pub fixed: Vec<FixedView>,
}

/// What one call of [`Session::step`] did.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// `None` when the search had already ended.
    pub progress: Option<StepRecord>,
    pub selection: Option<SelectionReport>,
    /// No more steps: call [`Session::finish`].
    pub finished: bool,
}

/// A search in progress on backend `B`, and its result once finished.
pub struct Session<B: AutodiffBackend> {
    search: Option<SearchSession<B>>,
    catalogue: Catalogue,
    budget: u64,
    result: Option<SearchResult>,
}

impl<B: AutodiffBackend> Session<B> {
    /// Reads the model and the task and sets the search up on `device` (no
    /// step taken; nothing is read back from the device).
    pub fn new(
        config_json: &[u8],
        weights: Vec<u8>,
        tokenizer_json: &[u8],
        task: &TaskInput,
        settings: Settings,
        device: B::Device,
    ) -> Result<Session<B>> {
        if settings.max_length < 2 {
            return Err(Error::InvalidInput(format!(
                "the maximum length ({}) must be at least 2",
                settings.max_length
            )));
        }
        let files = ModelFiles::from_bytes(
            config_json,
            vec![("model.safetensors".into(), weights)],
            Some(tokenizer_json),
        )?;
        let backbone = Backbone::from_files(files)?;
        let source = TaskSource::Custom(CustomTask {
            name: "task".into(),
            text_columns: vec![task.text_column.clone()],
            label_column: task.label_column.clone(),
            kind: CustomKind::Classification { labels: None },
            max_length: settings.max_length,
        });
        let data = TaskData::from_files(
            &source,
            vec![(
                Part::Train,
                task.file.clone(),
                task.text.as_bytes().to_vec(),
            )],
        )?;
        let spec = SearchSpec {
            backbone,
            data,
            split: SplitOptions {
                seed: settings.seed,
                max_train_examples: settings.max_train_examples,
                ..SplitOptions::default()
            },
            max_length: Some(settings.max_length),
            space: presets::preset(&settings.space)?,
            budget: settings.budget.to_core()?,
            method: Method::Bipeft,
            options: SearchOptions {
                epochs: settings.epochs,
                batch_size: settings.batch_size,
                seed: settings.seed,
                selection: Some(SelectionOptions {
                    start_epoch: Some(settings.selection_start_epoch),
                    max_steps: Some(settings.selection_steps),
                    ..SelectionOptions::default()
                }),
                fixed_length: settings.fixed_length,
                ..SearchOptions::default()
            },
        };
        let search = SearchSession::new(spec, device)?;
        Ok(Session {
            catalogue: search.catalogue().clone(),
            budget: search.budget_params(),
            search: Some(search),
            result: None,
        })
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// One architecture step and one weight step (docs/algorithm.md §5).
    pub async fn step(&mut self) -> Result<StepReport> {
        let Some(search) = self.search.as_mut() else {
            return Ok(StepReport {
                progress: None,
                selection: None,
                finished: true,
            });
        };
        let step = search.step().await?;
        let mut selection: Option<SelectionReport> = None;
        for event in &step.events {
            if let SearchEvent::Selection { step, .. } = event {
                let report = selection.get_or_insert_with(SelectionReport::default);
                report.pruned.extend(&step.pruned);
                for fix in step.dimension.iter().flat_map(|d| &d.fixed) {
                    let slot = self.catalogue.rank_slots()[fix.row];
                    report.fixed.push(FixedView {
                        slot,
                        rank: self.catalogue.slots()[slot].ranks[fix.candidate],
                    });
                }
            }
        }
        Ok(StepReport {
            progress: step.record,
            selection,
            finished: step.finished,
        })
    }

    /// Ends the search (if it has not ended) and gives the discrete
    /// configuration within the budget and the trace.
    pub async fn finish(&mut self) -> Result<(&PeftConfig, &SearchTrace)> {
        if self.result.is_none() {
            let search = self
                .search
                .take()
                .ok_or_else(|| Error::InvalidInput("the search was already finished".into()))?;
            self.result = Some(search.finish().await?);
        }
        let done = self.result.as_ref().expect("set above");
        Ok((&done.config, &done.trace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::TRACE_FORMAT;
    use futures_lite::future::block_on;

    /// burn-ndarray's random generator is global: tests that seed it and draw
    /// from it (the model's fresh weights) take turns, or one's draws land in
    /// another's run.
    static BACKEND_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn new_session(
        config: &[u8],
        weights: Vec<u8>,
        tokenizer: &[u8],
        task: &TaskInput,
        settings: Settings,
    ) -> Result<Session<CpuBackend>> {
        Session::new(
            config,
            weights,
            tokenizer,
            task,
            settings,
            Default::default(),
        )
    }

    fn tiny() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/web/tiny-bert");
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        (
            read("config.json"),
            read("model.safetensors"),
            read("tokenizer.json"),
        )
    }

    fn sentiment() -> TaskInput {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/data/sentiment.tsv");
        TaskInput {
            file: "sentiment.tsv".into(),
            text: std::fs::read_to_string(path).unwrap(),
            text_column: "sentence".into(),
            label_column: "label".into(),
        }
    }

    fn settings(budget: Budget) -> Settings {
        serde_json::from_value::<Settings>(
            serde_json::json!({"space": "s1", "budget": {"params": 1}}),
        )
        .map(|s| Settings {
            budget,
            epochs: 2,
            batch_size: 8,
            max_length: 32,
            selection_start_epoch: 0,
            selection_steps: 4,
            ..s
        })
        .unwrap()
    }

    #[test]
    fn a_session_searches_step_by_step_within_the_budget() {
        let _turn = BACKEND_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let (config, weights, tokenizer) = tiny();
        let mut session = new_session(
            &config,
            weights,
            &tokenizer,
            &sentiment(),
            settings(Budget::Percent(5.0)),
        )
        .unwrap();
        let budget = session.budget();
        assert_eq!(budget, 1_835, "5 % of the tiny BERT's 36,704 parameters");
        assert_eq!(session.catalogue().slots().len(), 18 * 2 + 2);
        let (mut steps, mut pruned) = (0, 0);
        loop {
            let report = block_on(session.step()).unwrap();
            if let Some(progress) = &report.progress {
                assert_eq!(progress.step, steps);
                assert!(progress.outcome.weight_loss.is_some_and(f64::is_finite));
                steps += 1;
            }
            if let Some(selection) = &report.selection {
                pruned += selection.pruned.len();
            }
            if report.finished {
                break;
            }
            assert!(steps < 1_000, "the search never finishes");
        }
        assert!(steps > 0 && pruned > 0, "{steps} steps, {pruned} pruned");
        // Further steps do nothing.
        let after = block_on(session.step()).unwrap();
        assert!(after.finished && after.progress.is_none());

        let (config, trace) = block_on(session.finish()).unwrap();
        assert!(config.trainable_params <= budget);
        config.validate().unwrap();
        let config = config.clone();
        let trace = serde_json::to_value(trace).unwrap();
        assert_eq!(trace["format"], TRACE_FORMAT);
        assert_eq!(trace["steps"].as_array().unwrap().len(), steps);
        assert_eq!(trace["slots"].as_array().unwrap().len(), 38);
        // The inspect view reads both back, and the trace matches the configuration.
        let replay = crate::inspect::replay_trace(
            &config.to_json().unwrap(),
            &serde_json::to_string(&trace).unwrap(),
        )
        .unwrap();
        assert_eq!(replay.steps.len(), steps);
        let replayed: usize = replay.selections.iter().map(|s| s.pruned.len()).sum();
        assert_eq!(replayed, pruned);
    }

    /// A text-to-text T5 (tests/fixtures/web/tiny-t5) searches in the page as
    /// well, here in S2 (its prefix trunk is shared) with padded batches.
    #[test]
    fn a_t5_session_searches_text_to_text_within_the_budget() {
        let _turn = BACKEND_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/web/tiny-t5");
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let mut session = new_session(
            &read("config.json"),
            read("model.safetensors"),
            &read("tokenizer.json"),
            &sentiment(),
            Settings {
                space: "s2".into(),
                epochs: 1,
                max_train_examples: Some(64),
                fixed_length: true,
                ..settings(Budget::Percent(2.0))
            },
        )
        .unwrap();
        let mut steps = 0;
        while !block_on(session.step()).unwrap().finished {
            steps += 1;
            assert!(steps < 100, "the search never finishes");
        }
        let budget = session.budget();
        let (config, trace) = block_on(session.finish()).unwrap();
        assert!(config.trainable_params <= budget, "{config:?}");
        let trace = serde_json::to_value(trace).unwrap();
        assert_eq!(trace["model_type"], "t5");
        assert_eq!(trace["space"], "s2");
        let losses = trace["steps"].as_array().unwrap();
        assert!(!losses.is_empty());
        assert!(losses
            .iter()
            .all(|s| s["weight_loss"].as_f64().is_some_and(f64::is_finite)));
    }

    #[test]
    fn padding_every_batch_to_the_maximum_length_changes_no_loss() {
        let _turn = BACKEND_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let (config, weights, tokenizer) = tiny();
        let losses = |fixed_length: bool| {
            let mut session = new_session(
                &config,
                weights.clone(),
                &tokenizer,
                &sentiment(),
                Settings {
                    fixed_length,
                    ..settings(Budget::Percent(5.0))
                },
            )
            .unwrap();
            (0..3)
                .map(|_| {
                    let p = block_on(session.step()).unwrap().progress.unwrap();
                    (p.outcome.arch_loss.unwrap(), p.outcome.weight_loss.unwrap())
                })
                .collect::<Vec<_>>()
        };
        let (free, fixed) = (losses(false), losses(true));
        for (a, b) in free.iter().zip(&fixed) {
            assert!(
                (a.0 - b.0).abs() < 1e-5 && (a.1 - b.1).abs() < 1e-5,
                "{free:?} vs {fixed:?}"
            );
        }
    }

    #[test]
    fn unusable_inputs_are_refused_with_a_reason() {
        let _turn = BACKEND_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let (config, weights, tokenizer) = tiny();
        let new = |task: &TaskInput, settings: Settings| {
            new_session(&config, weights.clone(), &tokenizer, task, settings)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let err = new(&sentiment(), settings(Budget::Params(3)));
        assert!(err.contains("below the smallest module"), "{err}");
        let err = new(&sentiment(), settings(Budget::Percent(-1.0)));
        assert!(err.contains("give a positive"), "{err}");
        let mut task = sentiment();
        task.label_column = "stars".into();
        let err = new(&task, settings(Budget::Percent(5.0)));
        assert!(err.contains("stars"), "{err}");
        let err = new(
            &sentiment(),
            Settings {
                space: "s7".into(),
                ..settings(Budget::Percent(5.0))
            },
        );
        assert!(err.contains("unknown search space"), "{err}");
        let err = new_session(
            b"{}",
            weights.clone(),
            &tokenizer,
            &sentiment(),
            settings(Budget::Percent(5.0)),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("model_type"), "{err}");
    }
}

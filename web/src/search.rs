//! The search in the browser, one weight step per call, so that the page's
//! worker can report progress and hear "stop" between steps.
//!
//! It puts together what `bipeft search` does — the model and its catalogue,
//! the task's search halves, [`BilevelSearch`] over a [`TaskModel`], the
//! discrete result and the trace — with everything read from bytes instead
//! of files. The trace has the command line's format, so the page's inspect
//! view (and anything else) reads both alike.
//!
//! It is generic over the backend: the page runs it on burn-wgpu where the
//! browser gives a WebGPU adapter and on burn-ndarray compiled into the wasm
//! otherwise. Every host read of the core's loop is awaited, which WebGPU
//! requires, so [`Session::step`] and [`Session::finish`] are async.

use bipeft_core::backbone::{bert, BackboneConfig};
use bipeft_core::data::{
    collate, Batch, CustomKind, CustomTask, Part, SearchEpochPlan, SplitOptions, Splits, TaskData,
    TaskSource, TokenizedTask,
};
use bipeft_core::loader::ModelFiles;
use bipeft_core::peft::PeftOptions;
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::search::{
    budget_from_percent, BilevelSearch, SearchConfig, SearchEvent, SelectionConfig,
    SelectionOutcome, StepOutcome,
};
use bipeft_core::space::{presets, Catalogue};
use bipeft_core::task_model::{peft_config_in_budget, search_slots, TaskModel};
use bipeft_core::train::PreparedTask;
use bipeft_core::{Error, Result};
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::inspect::{FixedView, TRACE_FORMAT};

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

/// A budget as a parameter count or as a share of the backbone.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    Params(u64),
    Percent(f64),
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

/// One weight step, as the trace (the same record as `bipeft search`'s) and
/// the page's progress report it.
#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub step: usize,
    #[serde(flatten)]
    pub outcome: StepOutcome,
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

/// `batch` padded (after its rows' ends) to `length` tokens, when one is given:
/// the padding is masked out, so the loss is the same.
fn fixed_length(mut batch: Batch, tokenized: &TokenizedTask, length: Option<usize>) -> Batch {
    let Some(length) = length.filter(|&l| l > batch.seq_len) else {
        return batch;
    };
    let pad = i64::from(tokenized.pad_id);
    let widen = |values: &[i64], fill: i64| {
        values
            .chunks_exact(batch.seq_len)
            .flat_map(|row| {
                row.iter()
                    .copied()
                    .chain(std::iter::repeat_n(fill, length - row.len()))
            })
            .collect::<Vec<_>>()
    };
    batch.input_ids = widen(&batch.input_ids, pad);
    batch.token_type_ids = widen(&batch.token_type_ids, 0);
    batch.attention_mask = widen(&batch.attention_mask, 0);
    batch.seq_len = length;
    batch
}

/// A search in progress on backend `B`.
pub struct Session<B: AutodiffBackend> {
    device: B::Device,
    search: Option<BilevelSearch<B, TaskModel<B>>>,
    catalogue: Catalogue,
    search_config: SearchConfig,
    settings: Settings,
    task_name: String,
    model_type: &'static str,
    backbone_params: u64,
    budget: u64,
    tokenized: TokenizedTask,
    splits: Splits,
    /// This epoch's weight and architecture batches, and the next one to take.
    plan: Option<SearchEpochPlan>,
    next: usize,
    epoch: usize,
    steps: Vec<StepRecord>,
    events_seen: usize,
    result: Option<Finished>,
}

/// The end of a search.
struct Finished {
    config: PeftConfig,
    trace: serde_json::Value,
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
        if settings.epochs == 0 || settings.batch_size == 0 || settings.max_length < 2 {
            return Err(Error::InvalidInput(format!(
                "epochs ({}) and batch size ({}) must be at least 1, the maximum length ({}) at least 2",
                settings.epochs, settings.batch_size, settings.max_length
            )));
        }
        let files = ModelFiles::from_bytes(
            config_json,
            vec![("model.safetensors".into(), weights)],
            Some(tokenizer_json),
        )?;
        let model = BackboneConfig::from_json(&files.config_json)?;
        let prefix = match &model {
            BackboneConfig::Bert(_) => bert::detect_prefix(&files.weights)?,
            BackboneConfig::T5(_) => String::new(),
        };
        let space = presets::preset(&settings.space)?;
        let catalogue = Catalogue::build(
            &model.shape(),
            &space,
            &PeftOptions::default(),
            model.site_namer(&prefix),
        )?;
        let backbone_params = model.num_params();
        let budget = match settings.budget {
            Budget::Params(n) => n,
            Budget::Percent(p) if p.is_finite() && p > 0.0 => {
                budget_from_percent(p, backbone_params)
            }
            Budget::Percent(p) => {
                return Err(Error::InvalidInput(format!(
                    "a budget of {p} % is not a positive share of the backbone"
                )))
            }
        };
        let smallest = catalogue
            .slots()
            .iter()
            .filter_map(|s| s.params.iter().copied().min())
            .min()
            .unwrap_or(0);
        if budget < smallest {
            return Err(Error::InvalidInput(format!(
                "a budget of {budget} parameters is below the smallest module of space `{}` \
                 ({smallest} parameters)",
                catalogue.space.name
            )));
        }

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
        let PreparedTask {
            data,
            splits,
            tokenized,
            ..
        } = PreparedTask::from_data(
            data,
            &SplitOptions {
                seed: settings.seed,
                max_train_examples: settings.max_train_examples,
                ..SplitOptions::default()
            },
            files.require_tokenizer()?,
            &model,
            Some(settings.max_length),
            None,
        )?;
        let steps_per_epoch =
            SearchEpochPlan::new(&tokenized, &splits, settings.batch_size, settings.seed, 0)?
                .weights
                .len();

        let slots = search_slots(&catalogue, false)?;
        let selection = SelectionConfig::new()
            .with_prune_begin_epoch(settings.selection_start_epoch)
            .with_max_prune_steps(settings.selection_steps);
        let search_config = SearchConfig::new(budget)
            .with_epochs(settings.epochs)
            .with_selection(Some(selection));
        B::seed(&device, settings.seed);
        let task_model = TaskModel::<B>::new(
            &model,
            &files.weights,
            &catalogue,
            &data.info.labels,
            false,
            &device,
        )?;
        let search = BilevelSearch::new(
            task_model,
            slots,
            search_config.clone(),
            steps_per_epoch,
            &device,
        )?;
        Ok(Session {
            device,
            search: Some(search),
            catalogue,
            search_config,
            task_name: data.info.name.clone(),
            model_type: model.model_type(),
            backbone_params,
            budget,
            tokenized,
            splits,
            plan: None,
            next: 0,
            epoch: 0,
            steps: Vec::new(),
            events_seen: 0,
            result: None,
            settings,
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
        let ended = StepReport {
            progress: None,
            selection: None,
            finished: true,
        };
        let Some(search) = self.search.as_mut() else {
            return Ok(ended);
        };
        if search.stopped_early() {
            return Ok(ended);
        }
        let epoch_done = self.plan.as_ref().is_none_or(|p| self.next >= p.weights.len());
        if epoch_done {
            if self.plan.is_some() {
                self.epoch += 1;
            }
            if self.epoch >= self.settings.epochs {
                return Ok(ended);
            }
            self.plan = Some(SearchEpochPlan::new(
                &self.tokenized,
                &self.splits,
                self.settings.batch_size,
                self.settings.seed,
                self.epoch,
            )?);
            self.next = 0;
        }
        let plan = self.plan.as_ref().expect("planned above");
        let epoch = self.epoch;
        // The prepared length: the settings' unless the model's positions cut it.
        let fixed = self
            .settings
            .fixed_length
            .then_some(self.tokenized.options.max_length);
        let batch = fixed_length(
            collate(&self.tokenized, &plan.weights[self.next])?,
            &self.tokenized,
            fixed,
        )
        .to_tensors(&self.device);
        let arch_batch = fixed_length(
            collate(&self.tokenized, plan.arch_for(self.next))?,
            &self.tokenized,
            fixed,
        )
        .to_tensors(&self.device);
        let weight_batches = plan.weights.len();
        self.next += 1;
        let outcome = search.step(&arch_batch, &batch, epoch).await?;
        let record = StepRecord {
            step: self.steps.len(),
            outcome,
        };
        self.steps.push(record.clone());

        let mut selection: Option<SelectionReport> = None;
        for event in &search.events()[self.events_seen..] {
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
        self.events_seen = search.events().len();
        let finished = search.stopped_early()
            || (self.next >= weight_batches && epoch + 1 >= self.settings.epochs);
        Ok(StepReport {
            progress: Some(record),
            selection,
            finished,
        })
    }

    /// Ends the search (if it has not ended) and gives the discrete
    /// configuration within the budget and the trace.
    pub async fn finish(&mut self) -> Result<(&PeftConfig, &serde_json::Value)> {
        if self.result.is_none() {
            let search = self
                .search
                .take()
                .ok_or_else(|| Error::InvalidInput("the search was already finished".into()))?;
            let stopped_early = search.stopped_early();
            let search_remaining = search.state().remaining_steps;
            let events = search.events().to_vec();
            let (_, _, arch) = search.finish().await?;
            let config = peft_config_in_budget(&self.catalogue, &arch, false)?;
            let mut notes = SelectionOutcome::of(
                &events,
                stopped_early,
                Some(search_remaining),
                config.trainable_params,
                self.budget,
            )
            .lines();
            notes.extend(arch.notes());
            let slots: Vec<serde_json::Value> = self
                .catalogue
                .slots()
                .iter()
                .map(|s| {
                    serde_json::json!({"name": s.name, "kind": s.kind, "ranks": s.ranks, "params": s.params})
                })
                .collect();
            let trace = serde_json::json!({
                "format": TRACE_FORMAT,
                "model_type": self.model_type,
                "task": self.task_name,
                "space": self.catalogue.space.name,
                "mode": "bipeft",
                "seed": self.settings.seed,
                "budget_params": self.budget,
                "backbone_params": self.backbone_params,
                "config": self.search_config,
                "slots": slots,
                "steps": self.steps,
                "events": events,
                "stopped_early": stopped_early,
                "result": arch,
                "notes": notes,
                "trainable_params": config.trainable_params,
            });
            self.result = Some(Finished { config, trace });
        }
        let done = self.result.as_ref().expect("set above");
        Ok((&done.config, &done.trace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let trace = trace.clone();
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
        assert!(err.contains("not a positive share"), "{err}");
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

//! [`SearchSession`]: one search from its [`SearchSpec`] to a configuration
//! within the budget, a weight step per call, checkpointable between steps.
//! Every host read of the loop is awaited ([`crate::search::read`]), so the
//! same session runs natively under any `block_on` and on WebGPU.

use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use super::search_trace::{SearchTrace, SlotInfo, StepRecord, TRACE_FORMAT};
use super::spec::{check_budget_fits, SearchSpec};
use crate::data::{collate, SearchEpochPlan, Splits, TokenizedTask};
use crate::error::{Error, Result};
use crate::experiment::Method;
use crate::peft::PeftOptions;
use crate::peft_config::PeftConfig;
use crate::search::{
    default_selection_start, fitted_selection_steps, BilevelSearch, SearchCheckpoint, SearchConfig,
    SearchEvent, SearchMode, SelectionConfig, SelectionOutcome,
};
use crate::space::Catalogue;
use crate::task_model::{peft_config_in_budget, search_slots, TaskModel};
use crate::train::PreparedTask;

/// Where a session is, kept in its checkpoints: the next weight batch and
/// the trace so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SessionProgress {
    /// The next weight batch: its epoch, and its index in that epoch's plan.
    pub epoch: usize,
    pub batch: usize,
    /// Weight steps taken.
    pub step: usize,
    pub steps: Vec<StepRecord>,
    /// Events already handed out by [`SearchSession::step`].
    pub events_seen: usize,
    /// [`PreparedTask::fingerprint`] of the data the search started on
    /// (absent in checkpoints written before it was kept).
    #[serde(default)]
    pub data_fingerprint: Option<String>,
}

/// What one call of [`SearchSession::step`] did.
#[derive(Clone, Debug)]
pub struct SessionStep {
    /// The step taken; `None` when the search had already ended.
    pub record: Option<StepRecord>,
    /// The search's events since the previous call (selection steps,
    /// skipped batches, epoch ends, the stop).
    pub events: Vec<SearchEvent>,
    /// No more steps: call [`SearchSession::finish`].
    pub finished: bool,
}

/// What a finished search gives.
pub struct SearchResult {
    /// The discrete configuration within the budget.
    pub config: PeftConfig,
    pub trace: SearchTrace,
}

/// A search in progress on backend `B`.
pub struct SearchSession<B: AutodiffBackend> {
    device: B::Device,
    search: BilevelSearch<B, TaskModel<B>>,
    catalogue: Catalogue,
    config: SearchConfig,
    method: Method,
    zero_rank: bool,
    task_name: String,
    model_type: &'static str,
    backbone_params: u64,
    budget_params: u64,
    tokenized: TokenizedTask,
    splits: Splits,
    batch_size: usize,
    seed: u64,
    fixed_length: bool,
    steps_per_epoch: usize,
    /// The current epoch's plan, once made.
    plan: Option<(usize, SearchEpochPlan)>,
    progress: SessionProgress,
}

impl<B: AutodiffBackend> SearchSession<B> {
    /// Reads the spec and sets the search up on `device` (no step taken).
    pub fn new(spec: SearchSpec, device: B::Device) -> Result<Self> {
        Self::build(spec, device, None)
    }

    /// Continues the search `checkpoint` was taken of; `spec` must be the one
    /// it started with (another model, space, configuration or training data
    /// is an error).
    pub fn resume(
        spec: SearchSpec,
        checkpoint: &SearchCheckpoint,
        device: B::Device,
    ) -> Result<Self> {
        Self::build(spec, device, Some(checkpoint))
    }

    fn build(
        spec: SearchSpec,
        device: B::Device,
        checkpoint: Option<&SearchCheckpoint>,
    ) -> Result<Self> {
        let SearchSpec {
            backbone,
            data,
            split,
            max_length,
            space,
            budget,
            method,
            options,
        } = spec;
        let Some(variant) = method.search_variant() else {
            return Err(Error::InvalidInput(format!(
                "`{method}` is a hand-made baseline: it is sized, not searched"
            )));
        };
        if options.batch_size == 0 {
            return Err(Error::InvalidInput(
                "the batch size must be at least 1".into(),
            ));
        }
        let catalogue = Catalogue::build(
            &backbone.config.shape(),
            &space,
            &PeftOptions::default(),
            backbone.naming(),
        )?;
        let backbone_params = backbone.config.num_params();
        let budget_params = budget.resolve(backbone_params);
        check_budget_fits(&catalogue, budget_params)?;

        let prepared = PreparedTask::from_data(
            data,
            &split,
            backbone.files.require_tokenizer()?,
            &backbone.config,
            max_length,
            None,
        )?;
        let data_fingerprint = prepared.fingerprint();
        let progress = match checkpoint {
            Some(c) => {
                let progress: SessionProgress = serde_json::from_slice(&c.driver).map_err(|e| {
                    Error::InvalidInput(format!("the checkpoint's progress is damaged: {e}"))
                })?;
                if progress
                    .data_fingerprint
                    .as_ref()
                    .is_some_and(|f| *f != data_fingerprint)
                {
                    return Err(Error::InvalidInput(
                        "the training data changed since this search started: resuming would \
                         continue another search"
                            .into(),
                    ));
                }
                progress
            }
            None => SessionProgress {
                data_fingerprint: Some(data_fingerprint),
                ..SessionProgress::default()
            },
        };
        let PreparedTask {
            data,
            splits,
            tokenized,
            ..
        } = prepared;
        let steps_per_epoch =
            SearchEpochPlan::new(&tokenized, &splits, options.batch_size, options.seed, 0)?
                .weights
                .len();

        let zero_rank = variant.mode == SearchMode::NoIter;
        let slots = search_slots(&catalogue, zero_rank)?;
        let selection = options
            .selection
            .as_ref()
            .filter(|_| variant.early_selection)
            .map(|s| {
                let defaults = SelectionConfig::new();
                let start = s
                    .start_epoch
                    .unwrap_or_else(|| default_selection_start(options.epochs));
                let steps = s.max_steps.unwrap_or_else(|| {
                    fitted_selection_steps(
                        steps_per_epoch,
                        options.epochs,
                        start,
                        defaults.trigger_window,
                    )
                });
                defaults
                    .with_prune_begin_epoch(start)
                    .with_max_prune_steps(steps)
                    .with_trigger_threshold(s.trigger_threshold)
                    .with_criterion(s.criterion)
            });
        let config = SearchConfig::new(budget_params)
            .with_epochs(options.epochs)
            .with_mode(variant.mode)
            .with_sampling(variant.sampling)
            .with_weight_lr(options.weight_lr)
            .with_arch_lr(options.arch_lr)
            .with_selection(selection)
            .with_seed(options.seed);

        B::seed(&device, options.seed);
        let model = TaskModel::<B>::new(
            &backbone.config,
            &backbone.files.weights,
            &catalogue,
            &data.info.labels,
            zero_rank,
            &device,
        )?;
        let search = match checkpoint {
            Some(c) => BilevelSearch::resume(model, slots, config.clone(), c, &device)?,
            None => BilevelSearch::new(model, slots, config.clone(), steps_per_epoch, &device)?,
        };
        Ok(SearchSession {
            device,
            search,
            catalogue,
            config,
            method,
            zero_rank,
            task_name: data.info.name.clone(),
            model_type: backbone.config.model_type(),
            backbone_params,
            budget_params,
            tokenized,
            splits,
            batch_size: options.batch_size,
            seed: options.seed,
            fixed_length: options.fixed_length,
            steps_per_epoch,
            plan: None,
            progress,
        })
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The search's configuration (with the fitted selection start and T).
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    pub fn budget_params(&self) -> u64 {
        self.budget_params
    }

    pub fn backbone_params(&self) -> u64 {
        self.backbone_params
    }

    pub fn task_name(&self) -> &str {
        &self.task_name
    }

    pub fn splits(&self) -> &Splits {
        &self.splits
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    /// Weight steps of the whole search if it does not stop early.
    pub fn total_steps(&self) -> usize {
        self.config.epochs * self.steps_per_epoch
    }

    pub fn progress(&self) -> &SessionProgress {
        &self.progress
    }

    /// One architecture step and one weight step (docs/algorithm.md §5).
    pub async fn step(&mut self) -> Result<SessionStep> {
        let ended = SessionStep {
            record: None,
            events: Vec::new(),
            finished: true,
        };
        let epochs = self.config.epochs;
        loop {
            if self.search.stopped_early() || self.progress.epoch >= epochs {
                return Ok(ended);
            }
            let epoch = self.progress.epoch;
            if self.plan.as_ref().is_none_or(|(e, _)| *e != epoch) {
                let plan = SearchEpochPlan::new(
                    &self.tokenized,
                    &self.splits,
                    self.batch_size,
                    self.seed,
                    epoch,
                )?;
                self.plan = Some((epoch, plan));
            }
            let (_, plan) = self.plan.as_ref().expect("made above");
            if self.progress.batch < plan.weights.len() {
                break;
            }
            self.progress.epoch += 1;
            self.progress.batch = 0;
        }
        let (epoch, index) = (self.progress.epoch, self.progress.batch);
        let (_, plan) = self.plan.as_ref().expect("made above");
        let length = self
            .fixed_length
            .then_some(self.tokenized.options.max_length);
        let pad_id = self.tokenized.pad_id;
        let pad = |b: crate::data::Batch| match length {
            Some(l) => b.padded_to(l, pad_id),
            None => b,
        };
        let batch =
            pad(collate(&self.tokenized, &plan.weights[index])?).to_tensors::<B>(&self.device);
        let arch_batch =
            pad(collate(&self.tokenized, plan.arch_for(index))?).to_tensors::<B>(&self.device);
        let weight_batches = plan.weights.len();
        let outcome = self.search.step(&arch_batch, &batch, epoch).await?;
        let record = StepRecord {
            step: self.progress.step,
            outcome,
        };
        self.progress.steps.push(record.clone());
        self.progress.step += 1;
        self.progress.batch += 1;
        let events = self.search.events()[self.progress.events_seen..].to_vec();
        self.progress.events_seen = self.search.events().len();
        let finished =
            self.search.stopped_early() || (index + 1 >= weight_batches && epoch + 1 >= epochs);
        Ok(SessionStep {
            record: Some(record),
            events,
            finished,
        })
    }

    /// The search and its progress, to continue with [`Self::resume`].
    /// `extra` is the caller's own state, stored beside the progress (its
    /// fields must not share the progress's names).
    pub async fn checkpoint<T: Serialize>(&self, extra: &T) -> Result<SearchCheckpoint> {
        #[derive(Serialize)]
        struct Stored<'a, T> {
            #[serde(flatten)]
            progress: &'a SessionProgress,
            #[serde(flatten)]
            extra: &'a T,
        }
        let mut checkpoint = self.search.checkpoint().await?;
        checkpoint.driver = serde_json::to_vec(&Stored {
            progress: &self.progress,
            extra,
        })
        .map_err(|e| Error::InvalidInput(format!("cannot store the search's progress: {e}")))?;
        Ok(checkpoint)
    }

    /// Ends the search (where it is) and gives the discrete configuration
    /// within the budget and the trace.
    pub async fn finish(self) -> Result<SearchResult> {
        let stopped_early = self.search.stopped_early();
        let remaining_steps = self.search.state().remaining_steps;
        let events = self.search.events().to_vec();
        let (_, _, arch) = self.search.finish().await?;
        let config = peft_config_in_budget(&self.catalogue, &arch, self.zero_rank)?;
        let mut notes = SelectionOutcome::of(
            &events,
            stopped_early,
            self.config.selection.is_some().then_some(remaining_steps),
            config.trainable_params,
            self.budget_params,
        )
        .lines();
        notes.extend(arch.notes());
        let trace = SearchTrace {
            format: TRACE_FORMAT.into(),
            model_type: self.model_type.into(),
            task: self.task_name,
            space: self.catalogue.space.name.clone(),
            mode: self.method.name().into(),
            seed: self.seed,
            budget_params: self.budget_params,
            backbone_params: self.backbone_params,
            config: Some(self.config),
            slots: SlotInfo::of(&self.catalogue),
            steps: self.progress.steps,
            events,
            stopped_early,
            result: Some(arch),
            notes,
            trainable_params: config.trainable_params,
            seconds: None,
        };
        Ok(SearchResult { config, trace })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{CustomKind, CustomTask, Part, SplitOptions, TaskData, TaskSource};
    use crate::experiment::Budget;
    use crate::loader::ModelFiles;
    use crate::session::{SearchOptions, SelectionOptions};
    use crate::space::presets;
    use crate::train::model::Backbone;
    use burn::backend::{Autodiff, Flex};
    use futures_lite::future::block_on;

    type B = Autodiff<Flex<f32>>;

    /// The backend's seed is global: tests that seed it take turns.
    static BACKEND_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// The tiny BERT of the page's tests on its demo task, BIPEFT at 5 %.
    fn spec(method: Method) -> SearchSpec {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let files = ModelFiles::from_dir(&root.join("tests/fixtures/web/tiny-bert")).unwrap();
        let source = TaskSource::Custom(CustomTask {
            name: "sentiment".into(),
            text_columns: vec!["sentence".into()],
            label_column: "label".into(),
            kind: CustomKind::Classification { labels: None },
            max_length: 32,
        });
        let text = std::fs::read(root.join("www/data/sentiment.tsv")).unwrap();
        let data = TaskData::from_files(&source, vec![(Part::Train, "sentiment.tsv".into(), text)])
            .unwrap();
        SearchSpec {
            backbone: Backbone::from_files(files).unwrap(),
            data,
            split: SplitOptions {
                seed: 3,
                max_train_examples: Some(96),
                ..SplitOptions::default()
            },
            max_length: Some(32),
            space: presets::preset("s1").unwrap(),
            budget: Budget::Percent(5.0),
            method,
            options: SearchOptions {
                epochs: 2,
                batch_size: 8,
                seed: 3,
                selection: Some(SelectionOptions {
                    start_epoch: Some(0),
                    max_steps: Some(4),
                    ..SelectionOptions::default()
                }),
                ..SearchOptions::default()
            },
        }
    }

    fn run_out(session: &mut SearchSession<B>) -> usize {
        let mut steps = 0;
        loop {
            let step = block_on(session.step()).unwrap();
            steps += usize::from(step.record.is_some());
            if step.finished {
                return steps;
            }
        }
    }

    #[test]
    fn a_resumed_session_ends_as_one_run_straight_through() {
        let _turn = BACKEND_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let mut straight =
            SearchSession::<B>::new(spec(Method::Bipeft), Default::default()).unwrap();
        let steps = run_out(&mut straight);
        assert_eq!(steps, straight.progress().steps.len());
        assert!(steps > 3, "{steps} steps");
        let straight = block_on(straight.finish()).unwrap();
        assert!(straight.config.trainable_params <= straight.trace.budget_params);
        assert_eq!(straight.trace.mode, "bipeft");

        let mut first = SearchSession::<B>::new(spec(Method::Bipeft), Default::default()).unwrap();
        for _ in 0..3 {
            block_on(first.step()).unwrap();
        }
        let checkpoint =
            block_on(first.checkpoint(&serde_json::json!({"caller": "test"}))).unwrap();
        let stored: serde_json::Value = serde_json::from_slice(&checkpoint.driver).unwrap();
        assert_eq!(
            (stored["step"].as_u64(), stored["caller"].as_str()),
            (Some(3), Some("test"))
        );
        drop(first);
        let mut resumed =
            SearchSession::<B>::resume(spec(Method::Bipeft), &checkpoint, Default::default())
                .unwrap();
        assert_eq!(run_out(&mut resumed), steps - 3);
        let resumed = block_on(resumed.finish()).unwrap();
        assert_eq!(resumed.config, straight.config);
        assert_eq!(resumed.trace.steps, straight.trace.steps);
        assert_eq!(resumed.trace.events, straight.trace.events);
    }

    #[test]
    fn a_session_refuses_baselines_and_other_data() {
        let _turn = BACKEND_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let err = SearchSession::<B>::new(spec(Method::UniformLora), Default::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("sized, not searched"), "{err}");
        let mut first = SearchSession::<B>::new(spec(Method::NoIter), Default::default()).unwrap();
        block_on(first.step()).unwrap();
        let checkpoint = block_on(first.checkpoint(&())).unwrap();
        let mut other = spec(Method::NoIter);
        other.split.seed = 4;
        let err = SearchSession::<B>::resume(other, &checkpoint, Default::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("training data changed"), "{err}");
    }
}

//! The bi-level search loop (docs/algorithm.md §5), first-order DARTS style: each
//! iteration takes one architecture step on a batch of the architecture half
//! (cycled) and one weight step on a batch of the weight half, then lets the
//! budget selector do its bookkeeping. The PEFT weights and the architecture
//! logits are separate modules with their own optimisers (AdamW and Adam), and
//! the model is anything that implements [`SearchModel`].

use burn::module::{AutodiffModule, Module};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamW, GradientsParams, Optimizer};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder as _, RecorderError};
use burn::tensor::{backend::AutodiffBackend, Tensor};
use serde::{Deserialize, Serialize};

use super::arch::{ArchLogits, ArchLogitsConfig, ArchSnapshot};
use super::checkpoint::{decode, encode, load_params, trainable_params, SearchCheckpoint};
use super::config::{Sampling, SearchConfig, SearchMode};
use super::discretise::{discretise, DiscreteArchitecture};
use super::gumbel::temperature;
use super::noise::NoiseRng;
use super::optim::{arch_optimizer, clip_global_norm, linear_decay, weight_optimizer};
use super::read::{flat, read_parts, read_values};
use super::sample::{draw_with_noise, ArchSample, SampleSpec};
use super::selector::BudgetSelector;
use super::saliency::copy_gradients;
use super::sensitivity::{pairs_from_rows, saliency_statistics, tensor_counts, SlotSaliency};
use super::slots::SearchSlots;
use super::state::SelectionState;
use super::trace::{EpochReport, SearchEvent};
use crate::error::{Error, Result};

/// A model the search can drive: the supernet (PEFT modules over a frozen
/// backbone) and its task head. Its trainable parameters are the PEFT weights
/// and the head; the backbone's must not require gradients.
pub trait SearchModel<B: AutodiffBackend>: AutodiffModule<B> {
    /// One batch of inputs and targets.
    type Batch;

    /// The task loss of `batch` with every slot gated by `sample`.
    ///
    /// # Shapes
    /// - returns `[1]`
    fn loss(&self, batch: &Self::Batch, sample: &ArchSample<B>) -> Tensor<B, 1>;

    /// θ ⊙ ∇θ of every slot's parameters, in slot order, one flattened tensor
    /// per parameter tensor of the slot's module (θ as it is now, ∇θ from
    /// `grads`; zeros for a parameter without a gradient).
    /// [`super::module_saliency`] computes it for one module.
    ///
    /// # Shapes
    /// - returns per slot its tensors' `[n]`
    fn saliency(&self, grads: &GradientsParams) -> Vec<SlotSaliency<B::InnerBackend>>;
}

/// A running search.
pub struct BilevelSearch<B: AutodiffBackend, M: SearchModel<B>> {
    model: M,
    arch: ArchLogits<B>,
    slots: SearchSlots,
    config: SearchConfig,
    weight_optim: OptimizerAdaptor<AdamW, M, B>,
    arch_optim: OptimizerAdaptor<Adam, ArchLogits<B>, B>,
    clock: super::stage::StageClock,
    selector: Option<BudgetSelector>,
    /// The decisions when selection is off: nothing pruned or fixed.
    no_selection: SelectionState,
    /// θ ⊙ ∇θ L_val of the last architecture step, waiting for its weight step.
    pending_val: Option<Vec<SlotSaliency<B::InnerBackend>>>,
    weight_steps: usize,
    total_weight_steps: usize,
    events: Vec<SearchEvent>,
    stopped_early: bool,
    /// The logits as read at the last weight step (with selection on).
    last_snapshot: Option<ArchSnapshot>,
    /// The trigger's mean cosine at the last weight step, when it checked.
    last_trigger_cosine: Option<f64>,
    /// The generator of the Gumbel noise.
    noise: NoiseRng,
    /// Batches skipped for a non-finite loss since the last step that was taken.
    skipped_in_a_row: usize,
}

/// Batches in a row whose loss is not a finite number after which the search
/// stops with an error: the weights or the learning rates have diverged, and
/// what it would go on to select would be noise.
pub const MAX_SKIPPED_IN_A_ROW: usize = 10;

/// The host side of a running search, as a checkpoint keeps it.
#[derive(Serialize, Deserialize)]
struct LoopState {
    clock: super::stage::StageClock,
    selector: Option<BudgetSelector>,
    weight_steps: usize,
    total_weight_steps: usize,
    events: Vec<SearchEvent>,
    stopped_early: bool,
    last_snapshot: Option<ArchSnapshot>,
    last_trigger_cosine: Option<f64>,
    noise: NoiseRng,
}

impl<B: AutodiffBackend, M: SearchModel<B>> BilevelSearch<B, M> {
    /// Starts a search of `model` over `slots`: fresh architecture logits on
    /// `device` (seed the backend first for a reproducible run).
    /// `steps_per_epoch` is the number of weight batches per epoch, for the
    /// learning-rate decay.
    pub fn new(
        model: M,
        slots: SearchSlots,
        config: SearchConfig,
        steps_per_epoch: usize,
        device: &B::Device,
    ) -> Result<Self> {
        config.validate()?;
        if config.mode == SearchMode::NoIter && slots.ranks()[0] != 0 {
            return Err(Error::InvalidInput(
                "the no_iter search needs rank 0 among the candidates (SearchSlots::with_zero_rank)"
                    .into(),
            ));
        }
        let arch = ArchLogitsConfig::new(slots.len(), slots.ranked_len(), slots.candidates())
            .with_init_std(config.init_std)
            .init(device);
        // Drawn now rather than at first use: in burn 0.21 every clone of a
        // lazily initialised parameter draws its own values, so a checkpoint
        // (which clones) would otherwise hold other logits than the search uses.
        let _ = (arch.binary_logits.val(), arch.rank_logits.val());
        let selector = config.selection.clone().map(|selection| {
            BudgetSelector::new(
                &slots,
                selection,
                config.budget_params,
                config.mode == SearchMode::NoIter,
            )
        });
        let noise = NoiseRng::new(config.seed);
        Ok(BilevelSearch {
            weight_optim: weight_optimizer(&config).init(),
            arch_optim: arch_optimizer(&config).init(),
            clock: super::stage::StageClock::new(config.mode, config.epochs),
            no_selection: SelectionState::new(&slots, 0),
            total_weight_steps: config.epochs * steps_per_epoch.max(1),
            model,
            arch,
            slots,
            config,
            selector,
            pending_val: None,
            weight_steps: 0,
            events: Vec::new(),
            stopped_early: false,
            last_snapshot: None,
            last_trigger_cosine: None,
            noise,
            skipped_in_a_row: 0,
        })
    }

    /// The model being searched.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The configuration the search runs with.
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    /// The architecture logits.
    pub fn arch(&self) -> &ArchLogits<B> {
        &self.arch
    }

    /// The selection decisions so far.
    pub fn state(&self) -> &SelectionState {
        self.selector
            .as_ref()
            .map_or(&self.no_selection, |s| s.state())
    }

    /// The modules' current sensitivities (with selection on, after its first update).
    pub fn sensitivities(&self) -> Option<Vec<f64>> {
        self.selector.as_ref().and_then(|s| s.sensitivities())
    }

    /// Everything that happened so far.
    pub fn events(&self) -> &[SearchEvent] {
        &self.events
    }

    /// Whether the last selection step was taken.
    pub fn stopped_early(&self) -> bool {
        self.stopped_early
    }

    /// A sample of `stage` at the epoch's temperature under the current
    /// decisions, with Gumbel noise from the search's own generator (drawn for
    /// α and β every time, so the stream does not depend on the stage).
    fn sample(&mut self, stage: super::stage::Stage, epoch: usize) -> ArchSample<B> {
        let spec = SampleSpec {
            stage,
            sampling: self.config.sampling,
            tau: self.tau(epoch),
            mode: self.config.mode,
            early_selection: self.config.selection.is_some(),
        };
        let noise = match self.config.sampling {
            Sampling::Gumbel => {
                let device = self.arch.binary_logits.val().device();
                let alpha = self.noise.gumbel(self.slots.len(), 2, &device);
                let beta =
                    self.noise
                        .gumbel(self.slots.ranked_len(), self.slots.candidates(), &device);
                Some((alpha, beta))
            }
            Sampling::Softmax => None,
        };
        draw_with_noise(&self.arch, &self.slots, self.state(), spec, noise)
    }

    /// Records a batch skipped for its non-finite loss (§5: not applied);
    /// an error once [`MAX_SKIPPED_IN_A_ROW`] batches in a row were.
    fn skip(&mut self, epoch: usize, architecture: bool) -> Result<()> {
        self.events.push(SearchEvent::SkippedBatch {
            epoch,
            weight_step: self.weight_steps,
            architecture,
        });
        self.skipped_in_a_row += 1;
        if self.skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW {
            return Err(Error::InvalidInput(format!(
                "the search's loss was not a finite number for {} batches in a row (epoch {epoch}, \
                 weight step {}): the model's weights or the learning rates make it diverge; \
                 nothing was selected",
                self.skipped_in_a_row, self.weight_steps
            )));
        }
        Ok(())
    }

    fn tau(&self, epoch: usize) -> f64 {
        temperature(
            epoch,
            self.config.epochs,
            self.config.tau_start,
            self.config.tau_end,
        )
    }

    /// One architecture step: a sample of the current stage, the task loss of
    /// `batch` plus the logits' regulariser, and Adam on the logits. Returns
    /// the task loss, or `None` when it was not finite and the step was skipped.
    ///
    /// Its one host read (the loss, to skip a non-finite batch) is awaited and
    /// comes after the backward pass, so the device is not stalled in between.
    pub async fn arch_step(&mut self, batch: &M::Batch, epoch: usize) -> Result<Option<f64>> {
        let sample = self.sample(self.clock.arch_stage(epoch), epoch);
        let task = self.model.loss(batch, &sample);
        self.clock.advance();
        let loss = task.clone().add(
            self.arch
                .regulariser()
                .mul_scalar(self.config.arch_regulariser),
        );
        let mut grads = loss.backward();
        let task_value = first_value(read_values(task.inner()).await?)?;
        if !task_value.is_finite() {
            self.skip(epoch, true)?;
            return Ok(None);
        }
        self.skipped_in_a_row = 0;
        if self.selector.is_some() {
            let model_grads = GradientsParams::from_module(&mut grads, &self.model);
            self.pending_val = Some(self.model.saliency(&model_grads));
        }
        let arch_grads = GradientsParams::from_module(&mut grads, &self.arch);
        self.arch = self
            .arch_optim
            .step(self.config.arch_lr, self.arch.clone(), arch_grads);
        Ok(Some(task_value))
    }

    /// One weight step: a binary-stage sample, the task loss of `batch`,
    /// global-norm clipping and AdamW on the model at the decayed learning rate,
    /// then the selector's bookkeeping. Returns the loss, or `None` when it was
    /// not finite and the batch was skipped.
    ///
    /// The sensitivity's training term is read after the update, as the
    /// reference reads it: the updated θ times the clipped gradient (§6.1).
    /// Two awaited reads: the loss (to skip a non-finite batch before it is
    /// applied), then the logits and the selector's statistics together;
    /// clipping stays on the device.
    pub async fn weight_step(&mut self, batch: &M::Batch, epoch: usize) -> Result<Option<f64>> {
        let sample = self.sample(self.clock.weight_stage(), epoch);
        let loss = self.model.loss(batch, &sample);
        let mut grads = loss.clone().backward();
        let value = first_value(read_values(loss.inner()).await?)?;
        let val = self.pending_val.take();
        if !value.is_finite() {
            // As if the batch never came: the pending validation gradient waits
            // for the next weight step.
            self.pending_val = val;
            self.skip(epoch, false)?;
            return Ok(None);
        }
        self.skipped_in_a_row = 0;
        let mut model_grads = GradientsParams::from_module(&mut grads, &self.model);
        if let Some(max_norm) = self.config.clip_grad_norm {
            clip_global_norm(&self.model, &mut model_grads, max_norm);
        }
        let clipped = self
            .selector
            .is_some()
            .then(|| copy_gradients(&self.model, &model_grads));
        let lr = linear_decay(
            self.config.weight_lr,
            self.weight_steps,
            self.total_weight_steps,
        );
        self.model = self.weight_optim.step(lr, self.model.clone(), model_grads);
        self.weight_steps += 1;

        let Some(selector) = self.selector.as_mut() else {
            return Ok(Some(value));
        };
        let mut parts = vec![
            flat(self.arch.binary_logits.val().inner()),
            flat(self.arch.rank_logits.val().inner()),
        ];
        let mut counts = None;
        if let (Some(clipped), Some(val)) = (clipped, val) {
            let train = self.model.saliency(&clipped);
            counts = Some(tensor_counts(&train));
            parts.push(flat(saliency_statistics(&train, &val)?));
        }
        let mut values = read_parts(parts).await?.into_iter();
        let (binary, rank) = (
            values.next().unwrap_or_default(),
            values.next().unwrap_or_default(),
        );
        let snapshot = ArchSnapshot::new(binary, rank, self.slots.candidates());
        let pairs = counts
            .zip(values.next())
            .map(|(counts, rows)| pairs_from_rows(&rows, &counts));
        let report = selector.after_weight_step(&self.slots, epoch, &snapshot, pairs.as_deref());
        self.last_trigger_cosine = report.trigger_cosine;
        if let Some(step) = report.selection {
            let name = |m: usize| self.slots.slots()[m].name.clone();
            let pruned_names = step.pruned.iter().map(|&m| name(m)).collect();
            let fixed_names = step
                .dimension
                .iter()
                .flat_map(|d| &d.fixed)
                .map(|f| name(self.slots.ranked_slot(f.row)))
                .collect();
            self.events.push(SearchEvent::Selection {
                epoch,
                weight_step: self.weight_steps,
                step,
                pruned_names,
                fixed_names,
            });
        }
        if report.finished && !self.stopped_early {
            self.stopped_early = true;
            self.events.push(SearchEvent::Stopped {
                epoch,
                weight_step: self.weight_steps,
            });
        }
        self.last_snapshot = Some(snapshot);
        Ok(Some(value))
    }

    /// One iteration of the loop (§5): an architecture step on `arch_batch`,
    /// then a weight step on `weight_batch`, at a 0-based `epoch`. This is the
    /// call a driver makes per batch, natively or in the browser:
    ///
    /// ```ignore
    /// let outcome = search.step(&arch_batch, &weight_batch, epoch).await?;
    /// if search.stopped_early() { /* done: search.finish().await */ }
    /// ```
    ///
    /// Every host read inside is awaited (`into_data_async`), so it runs on
    /// WebGPU; natively, drive it with any `block_on`.
    pub async fn step(
        &mut self,
        arch_batch: &M::Batch,
        weight_batch: &M::Batch,
        epoch: usize,
    ) -> Result<StepOutcome> {
        let arch_loss = self.arch_step(arch_batch, epoch).await?;
        let weight_loss = self.weight_step(weight_batch, epoch).await?;
        Ok(StepOutcome {
            epoch,
            tau: self.tau(epoch),
            arch_loss,
            weight_loss,
            expected_params: self.expected_params(),
            trigger_cosine: self.last_trigger_cosine,
            live_modules: self.state().live_count(),
            fixed_ranks: self.state().fixed_rank.iter().flatten().count(),
            remaining_selection_steps: self.selector.as_ref().map(|s| s.state().remaining_steps),
        })
    }

    /// E, the expected trainable parameters under the logits of the last
    /// weight step and the decisions now (with selection on, after a step).
    pub fn expected_params(&self) -> Option<f64> {
        let selector = self.selector.as_ref()?;
        let snapshot = self.last_snapshot.as_ref()?;
        Some(selector.expectation(&self.slots, snapshot).total)
    }

    /// One epoch: for every weight batch, an architecture step on the next
    /// architecture batch (cycling from the first each epoch, as the reference)
    /// and a weight step. Ends early when the search stops.
    pub async fn run_epoch<I>(
        &mut self,
        epoch: usize,
        weight_batches: I,
        arch_batches: &[M::Batch],
    ) -> Result<EpochReport>
    where
        I: IntoIterator<Item = M::Batch>,
    {
        if arch_batches.is_empty() {
            return Err(Error::InvalidInput(
                "the search needs at least one architecture batch".into(),
            ));
        }
        let (mut weight_sum, mut weight_n) = (0.0, 0usize);
        let (mut arch_sum, mut arch_n) = (0.0, 0usize);
        for (i, batch) in weight_batches.into_iter().enumerate() {
            if self.stopped_early {
                break;
            }
            let outcome = self
                .step(&arch_batches[i % arch_batches.len()], &batch, epoch)
                .await?;
            if let Some(loss) = outcome.arch_loss {
                arch_sum += loss;
                arch_n += 1;
            }
            if let Some(loss) = outcome.weight_loss {
                weight_sum += loss;
                weight_n += 1;
            }
        }
        let (expected_params, remaining_steps) = match &self.selector {
            Some(selector) => {
                if self.last_snapshot.is_none() {
                    self.last_snapshot = Some(self.arch.snapshot_async().await?);
                }
                (
                    self.expected_params(),
                    Some(selector.state().remaining_steps),
                )
            }
            None => (None, None),
        };
        let report = EpochReport {
            epoch,
            tau: self.tau(epoch),
            weight_loss: weight_sum / weight_n.max(1) as f64,
            arch_loss: arch_sum / arch_n.max(1) as f64,
            weight_steps: weight_n,
            expected_params,
            remaining_steps,
        };
        self.events.push(SearchEvent::Epoch(report.clone()));
        Ok(report)
    }

    /// Runs up to the configured epochs, asking `weight_batches` for each
    /// epoch's (shuffled) weight batches; stops after the last selection step.
    pub async fn run<I, F>(
        &mut self,
        mut weight_batches: F,
        arch_batches: &[M::Batch],
    ) -> Result<Vec<EpochReport>>
    where
        I: IntoIterator<Item = M::Batch>,
        F: FnMut(usize) -> I,
    {
        let mut reports = Vec::new();
        for epoch in 0..self.config.epochs {
            if self.stopped_early {
                break;
            }
            reports.push(
                self.run_epoch(epoch, weight_batches(epoch), arch_batches)
                    .await?,
            );
        }
        Ok(reports)
    }

    /// Saves the search between two iterations (after [`Self::step`]); see
    /// [`super::checkpoint`]. The trainable weights are read with one awaited
    /// read; the optimiser records go through burn's recorder, which reads
    /// synchronously: checkpoints are for native runs.
    pub async fn checkpoint(&self) -> Result<SearchCheckpoint> {
        let state = LoopState {
            clock: self.clock.clone(),
            selector: self.selector.clone(),
            weight_steps: self.weight_steps,
            total_weight_steps: self.total_weight_steps,
            events: self.events.clone(),
            stopped_early: self.stopped_early,
            last_snapshot: self.last_snapshot.clone(),
            last_trigger_cosine: self.last_trigger_cosine,
            noise: self.noise.clone(),
        };
        let params = trainable_params(&self.model).await?;
        let recorder = Recorder::default();
        let record = |what: &str, bytes: std::result::Result<Vec<u8>, RecorderError>| {
            bytes.map_err(|e| Error::InvalidInput(format!("cannot record the {what}: {e}")))
        };
        Ok(SearchCheckpoint::new(
            self.config.clone(),
            self.slots.clone(),
            encode(&state)?,
            params,
            record(
                "logits",
                recorder.record(self.arch.clone().into_record(), ()),
            )?,
            record(
                "weight optimiser",
                recorder.record(self.weight_optim.to_record(), ()),
            )?,
            record(
                "architecture optimiser",
                recorder.record(self.arch_optim.to_record(), ()),
            )?,
        ))
    }

    /// Continues a search from `checkpoint`: `model` is built as for
    /// [`Self::new`] (same backbone, space and head), `slots` and `config`
    /// must be those the checkpoint was made with.
    pub fn resume(
        model: M,
        slots: SearchSlots,
        config: SearchConfig,
        checkpoint: &SearchCheckpoint,
        device: &B::Device,
    ) -> Result<Self> {
        if checkpoint.slots != slots {
            return Err(Error::InvalidInput(
                "the checkpoint was made over other slots (another model, space or ranks)".into(),
            ));
        }
        if checkpoint.config != config {
            return Err(Error::InvalidInput(
                "the checkpoint was made with another search configuration".into(),
            ));
        }
        let mut search = Self::new(model, slots, config, 1, device)?;
        let state: LoopState = decode(&checkpoint.state)?;
        search.model = load_params(search.model, &checkpoint.params, device)?;
        let recorder = Recorder::default();
        let damaged = |what: &str, e: RecorderError| {
            Error::InvalidInput(format!("the checkpoint's {what} record is damaged: {e}"))
        };
        let arch = recorder
            .load(checkpoint.arch.clone(), device)
            .map_err(|e| damaged("logits", e))?;
        search.arch = search.arch.load_record(arch);
        let weight = recorder
            .load(checkpoint.weight_optim.clone(), device)
            .map_err(|e| damaged("weight optimiser", e))?;
        search.weight_optim = search.weight_optim.load_record(weight);
        let arch_optim = recorder
            .load(checkpoint.arch_optim.clone(), device)
            .map_err(|e| damaged("architecture optimiser", e))?;
        search.arch_optim = search.arch_optim.load_record(arch_optim);
        search.clock = state.clock;
        search.selector = state.selector;
        search.weight_steps = state.weight_steps;
        search.total_weight_steps = state.total_weight_steps;
        search.events = state.events;
        search.stopped_early = state.stopped_early;
        search.last_snapshot = state.last_snapshot;
        search.last_trigger_cosine = state.last_trigger_cosine;
        search.noise = state.noise;
        Ok(search)
    }

    /// The discrete architecture the search has arrived at (§6.5).
    pub async fn architecture(&self) -> Result<DiscreteArchitecture> {
        let snapshot = self.arch.snapshot_async().await?;
        let sensitivities = self.selector.as_ref().and_then(|s| s.sensitivities());
        Ok(discretise(
            &self.slots,
            &snapshot,
            self.state(),
            self.stopped_early,
            self.config.mode,
            sensitivities.as_deref(),
            self.config.budget_params,
        ))
    }

    /// Ends the search: the model, the logits and the discrete architecture.
    pub async fn finish(self) -> Result<(M, ArchLogits<B>, DiscreteArchitecture)> {
        let architecture = self.architecture().await?;
        Ok((self.model, self.arch, architecture))
    }
}

/// Checkpoint records: named MessagePack, f32 kept exactly.
type Recorder = NamedMpkBytesRecorder<FullPrecisionSettings>;

/// The first value of a read-back loss.
fn first_value(values: Vec<f32>) -> Result<f64> {
    values
        .first()
        .map(|&v| v as f64)
        .ok_or_else(|| Error::InvalidInput("the model's loss is an empty tensor".into()))
}

/// What one iteration of the loop did ([`BilevelSearch::step`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub epoch: usize,
    /// Gumbel temperature of the epoch.
    pub tau: f64,
    /// Task loss of the architecture step; `None` when it was skipped (not finite).
    pub arch_loss: Option<f64>,
    /// Loss of the weight step; `None` when it was skipped.
    pub weight_loss: Option<f64>,
    /// E after the step (with selection on).
    pub expected_params: Option<f64>,
    /// Mean cosine of the trigger's check at this step, when one was made.
    pub trigger_cosine: Option<f64>,
    /// Slots not pruned.
    pub live_modules: usize,
    /// Ranked slots whose rank is fixed.
    pub fixed_ranks: usize,
    /// T after the step (with selection on).
    pub remaining_selection_steps: Option<usize>,
}

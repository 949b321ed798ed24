//! The bi-level search loop (ALGORITHM.md §5), first-order DARTS style: each
//! iteration takes one architecture step on a batch of the architecture half
//! (cycled) and one weight step on a batch of the weight half, then lets the
//! budget selector do its bookkeeping. The PEFT weights and the architecture
//! logits are separate modules with their own optimisers (AdamW and Adam), and
//! the model is anything that implements [`SearchModel`].

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamW, GradientsParams, Optimizer};
use burn::tensor::{backend::AutodiffBackend, ElementConversion, Tensor};

use super::arch::{read_f32, ArchLogits, ArchLogitsConfig};
use super::config::{SearchConfig, SearchMode};
use super::discretise::{discretise, DiscreteArchitecture};
use super::gumbel::temperature;
use super::optim::{arch_optimizer, clip_global_norm, linear_decay, weight_optimizer};
use super::sample::{draw, ArchSample, SampleSpec};
use super::selector::BudgetSelector;
use super::sensitivity::saliency_pairs;
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

    /// θ ⊙ ∇θ of every slot's parameters, flattened, one tensor per slot in
    /// slot order (θ as it is now, ∇θ from `grads`). A slot whose parameters
    /// got no gradient returns zeros of its size.
    ///
    /// # Shapes
    /// - returns `slots` tensors of `[n_m]`
    fn saliency(&self, grads: &B::Gradients) -> Vec<Tensor<B::InnerBackend, 1>>;
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
    pending_val: Option<Vec<Tensor<B::InnerBackend, 1>>>,
    weight_steps: usize,
    total_weight_steps: usize,
    events: Vec<SearchEvent>,
    stopped_early: bool,
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
        let selector = config.selection.clone().map(|selection| {
            BudgetSelector::new(
                &slots,
                selection,
                config.budget_params,
                config.mode == SearchMode::NoIter,
            )
        });
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
        })
    }

    /// The model being searched.
    pub fn model(&self) -> &M {
        &self.model
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

    /// A sample of `stage` at the epoch's temperature under the current decisions.
    fn sample(&self, stage: super::stage::Stage, epoch: usize) -> ArchSample<B> {
        let spec = SampleSpec {
            stage,
            sampling: self.config.sampling,
            tau: self.tau(epoch),
            mode: self.config.mode,
        };
        draw(&self.arch, &self.slots, self.state(), spec)
    }

    /// Records a batch skipped for its non-finite loss (§5: not applied).
    fn skip(&mut self, epoch: usize, architecture: bool) {
        self.events.push(SearchEvent::SkippedBatch {
            epoch,
            weight_step: self.weight_steps,
            architecture,
        });
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
    pub fn arch_step(&mut self, batch: &M::Batch, epoch: usize) -> Result<Option<f64>> {
        let sample = self.sample(self.clock.arch_stage(epoch), epoch);
        let task = self.model.loss(batch, &sample);
        self.clock.advance();
        let task_value = read_scalar(task.clone())?;
        if !task_value.is_finite() {
            self.skip(epoch, true);
            return Ok(None);
        }
        let loss = task.add(
            self.arch
                .regulariser()
                .mul_scalar(self.config.arch_regulariser),
        );
        let mut grads = loss.backward();
        if self.selector.is_some() {
            self.pending_val = Some(self.model.saliency(&grads));
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
    pub fn weight_step(&mut self, batch: &M::Batch, epoch: usize) -> Result<Option<f64>> {
        let sample = self.sample(self.clock.weight_stage(), epoch);
        let loss = self.model.loss(batch, &sample);
        let value = read_scalar(loss.clone())?;
        if !value.is_finite() {
            self.skip(epoch, false);
            return Ok(None);
        }
        let mut grads = loss.backward();
        let val = self.pending_val.take();
        let train = match (&self.selector, &val) {
            (Some(_), Some(_)) => Some(self.model.saliency(&grads)),
            _ => None,
        };
        let mut model_grads = GradientsParams::from_module(&mut grads, &self.model);
        if let Some(max_norm) = self.config.clip_grad_norm {
            clip_global_norm(&self.model, &mut model_grads, max_norm);
        }
        let lr = linear_decay(
            self.config.weight_lr,
            self.weight_steps,
            self.total_weight_steps,
        );
        self.model = self.weight_optim.step(lr, self.model.clone(), model_grads);
        self.weight_steps += 1;

        if let Some(selector) = self.selector.as_mut() {
            let pairs = match (train, val) {
                (Some(t), Some(v)) => Some(saliency_pairs(&t, &v)?),
                _ => None,
            };
            let snapshot = self.arch.snapshot()?;
            let report =
                selector.after_weight_step(&self.slots, epoch, &snapshot, pairs.as_deref());
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
        }
        Ok(Some(value))
    }

    /// One epoch: for every weight batch, an architecture step on the next
    /// architecture batch (cycling from the first each epoch, as the reference)
    /// and a weight step. Ends early when the search stops.
    pub fn run_epoch<I>(
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
            if let Some(loss) = self.arch_step(&arch_batches[i % arch_batches.len()], epoch)? {
                arch_sum += loss;
                arch_n += 1;
            }
            if let Some(loss) = self.weight_step(&batch, epoch)? {
                weight_sum += loss;
                weight_n += 1;
            }
        }
        let (expected_params, remaining_steps) = match &self.selector {
            Some(selector) => {
                let snapshot = self.arch.snapshot()?;
                (
                    Some(selector.expectation(&self.slots, &snapshot).total),
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
    pub fn run<I, F>(
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
            reports.push(self.run_epoch(epoch, weight_batches(epoch), arch_batches)?);
        }
        Ok(reports)
    }

    /// The discrete architecture the search has arrived at (§6.5).
    pub fn architecture(&self) -> Result<DiscreteArchitecture> {
        let snapshot = self.arch.snapshot()?;
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
    pub fn finish(self) -> Result<(M, ArchLogits<B>, DiscreteArchitecture)> {
        let architecture = self.architecture()?;
        Ok((self.model, self.arch, architecture))
    }
}

fn read_scalar<B: AutodiffBackend>(loss: Tensor<B, 1>) -> Result<f64> {
    read_f32(loss.into_data())?
        .first()
        .map(|v| v.elem::<f64>())
        .ok_or_else(|| Error::InvalidInput("the model's loss is an empty tensor".into()))
}

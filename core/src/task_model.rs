//! The model a search drives (docs/algorithm.md §5): a frozen backbone, the
//! supernet of a search space over it, and — for encoders — a trainable
//! classification / regression head. It implements [`SearchModel`]: the task
//! loss under an architecture sample (cross-entropy or MSE for encoders,
//! transformers' seq2seq loss for T5) and each slot's θ ⊙ ∇θ from the
//! supernet's parameters.
//!
//! [`search_slots`] is the one place where a [`Catalogue`] becomes the
//! search's [`SearchSlots`]: same order, slot `i` is catalogue slot `i`, named
//! `name:kind` (names alone repeat across kinds).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use crate::backbone::bert::{BertConfig, BertHead, BertHeadConfig, BertModel, Pooling};
use crate::backbone::t5::{seq2seq_loss, T5Config, T5Model};
use crate::backbone::{BackboneConfig, Hooks};
use crate::data::{LabelSpace, TensorBatch, TensorTargets};
use crate::error::{Error, Result};
use crate::loader::Weights;
use crate::peft_config::PeftConfig;
use crate::search::{
    module_saliency, ArchSample, DiscreteArchitecture, SearchModel, SearchSlot, SearchSlots,
    SharedCost, SlotSaliency,
};
use crate::space::{prefix_trunk_params, Catalogue, Kind, PREFIX_TRUNK};
use crate::supernet::{Gates, Supernet};

/// The search's view of `catalogue`, slot for slot. With `zero_rank` (the
/// `no_iter` ablation) rank 0 is prepended to the candidates.
///
/// Every rank-searchable slot must have as many candidates as the catalogue's
/// widest (the search holds one `[rows, candidates]` logit matrix); the
/// shared candidate labels are those of the first rank-searchable slot, and
/// [`peft_config_of`] maps choices back to each slot's own ranks.
pub fn search_slots(catalogue: &Catalogue, zero_rank: bool) -> Result<SearchSlots> {
    let k = catalogue.num_candidates();
    let mut labels: Option<Vec<usize>> = None;
    let mut list = Vec::with_capacity(catalogue.slots().len());
    for slot in catalogue.slots() {
        let name = slot_name(&slot.name, slot.kind);
        if slot.is_rank_searchable() {
            if slot.ranks.len() != k {
                return Err(Error::InvalidInput(format!(
                    "{} slot `{}` has {} candidate ranks, other slots {k}; the search needs \
                     the same number of candidates for every rank-searchable slot",
                    slot.kind,
                    slot.name,
                    slot.ranks.len()
                )));
            }
            labels.get_or_insert_with(|| slot.ranks.clone());
            list.push(SearchSlot::ranked(name, slot.params.clone()));
        } else {
            list.push(SearchSlot::on_off(name, slot.params[0]));
        }
    }
    let ranks = labels.ok_or_else(|| {
        Error::InvalidInput(format!(
            "space `{}` has no rank-searchable slot on this backbone",
            catalogue.space.name
        ))
    })?;
    let slots = SearchSlots::new(ranks, list)?.with_shared(shared_costs(catalogue, k))?;
    if zero_rank {
        slots.with_zero_rank()
    } else {
        Ok(slots)
    }
}

/// The catalogue's shared parts as the search counts them: the prefix trunk,
/// as long as the longest prefix that is on, for each candidate index.
fn shared_costs(catalogue: &Catalogue, candidates: usize) -> Vec<SharedCost> {
    let members: Vec<usize> = (0..catalogue.slots().len())
        .filter(|&m| catalogue.slots()[m].kind == Kind::Prefix)
        .collect();
    if members.is_empty() {
        return Vec::new();
    }
    let params_by_candidate = (0..candidates.max(1))
        .map(|c| {
            let longest = members
                .iter()
                .map(|&m| {
                    let ranks = &catalogue.slots()[m].ranks;
                    ranks[c.min(ranks.len() - 1)]
                })
                .max()
                .unwrap_or(0);
            prefix_trunk_params(longest, catalogue.shape.d_model, &catalogue.options)
        })
        .collect();
    vec![SharedCost {
        name: PREFIX_TRUNK.into(),
        members,
        params_by_candidate,
    }]
}

/// A slot's search name: its checkpoint path and kind.
pub fn slot_name(name: &str, kind: Kind) -> String {
    format!("{name}:{kind}")
}

/// The discrete configuration of a search result (`zero_rank` as given to
/// [`search_slots`]), with each rank mapped back to its slot's own candidates.
pub fn peft_config_of(
    catalogue: &Catalogue,
    arch: &DiscreteArchitecture,
    zero_rank: bool,
) -> Result<PeftConfig> {
    let offset = usize::from(zero_rank);
    let picks: Vec<(usize, Option<usize>)> = arch
        .modules
        .iter()
        .map(|m| {
            let slot = &catalogue.slots()[m.slot];
            let rank = catalogue.rank_row(m.slot).map(|row| {
                let choice = arch.rank_choice[row].saturating_sub(offset);
                slot.ranks[choice]
            });
            (m.slot, rank)
        })
        .collect();
    PeftConfig::from_selection(catalogue, arch.budget_params, &picks)
}

/// [`peft_config_of`], checked against the budget. The search counts every
/// parameter the configuration will hold, shared ones included (the prefix
/// trunk, [`search_slots`]), when it discretises; a configuration over the
/// budget is therefore a bug, reported as an error rather than written.
pub fn peft_config_in_budget(
    catalogue: &Catalogue,
    arch: &DiscreteArchitecture,
    zero_rank: bool,
) -> Result<PeftConfig> {
    let peft = peft_config_of(catalogue, arch, zero_rank)?;
    if peft.trainable_params > arch.budget_params {
        return Err(Error::InvalidInput(format!(
            "internal error: the configuration holds {} trainable parameters, over the budget of {} \
             that the search kept (please report this with the search's trace)",
            peft.trainable_params, arch.budget_params
        )));
    }
    Ok(peft)
}

/// The frozen backbone with its task-specific part.
#[derive(Module, Debug)]
pub struct TaskModel<B: Backend> {
    /// Encoder backbone (frozen).
    pub bert: Option<BertModel<B>>,
    /// The encoder's trainable classification / regression head.
    pub head: Option<BertHead<B>>,
    /// Text-to-text backbone (frozen).
    pub t5: Option<T5Model<B>>,
    pub supernet: Supernet<B>,
    /// Rank 0 was prepended to the candidates (`no_iter`): the sample's first
    /// rank column is "off" and is dropped before the supernet sees it.
    #[module(skip)]
    pub zero_rank: bool,
    #[module(skip)]
    pub regression: bool,
}

impl<B: Backend> TaskModel<B> {
    /// Loads the backbone of `config` from `weights`, freezes it, and puts a
    /// fresh supernet of `catalogue` (and for encoders a head for `labels`) on it.
    pub fn new(
        config: &BackboneConfig,
        weights: &Weights,
        catalogue: &Catalogue,
        labels: &LabelSpace,
        zero_rank: bool,
        device: &B::Device,
    ) -> Result<Self> {
        let supernet = Supernet::new(catalogue, device)?;
        let regression = matches!(labels, LabelSpace::Regression);
        match config {
            BackboneConfig::Bert(c) => {
                let (bert, head) = encoder_parts(c, weights, labels.num_outputs(), device)?;
                Ok(TaskModel {
                    bert: Some(bert.no_grad()),
                    head: Some(head),
                    t5: None,
                    supernet,
                    zero_rank,
                    regression,
                })
            }
            BackboneConfig::T5(c) => Ok(TaskModel {
                bert: None,
                head: None,
                t5: Some(t5_model(c, weights, device)?.no_grad()),
                supernet,
                zero_rank,
                regression,
            }),
        }
    }

    /// The supernet's gates for `sample` (see [`Self::zero_rank`]).
    pub fn gates(&self, sample: &ArchSample<B>) -> Gates<B> {
        let mut weights = sample.rank_weights.clone();
        if self.zero_rank {
            let [_, k] = weights.dims();
            weights = weights.narrow(1, 1, k - 1);
        }
        Gates::new(sample.gates.clone(), Some(weights))
    }

    /// The task loss of `batch` under `gates`.
    ///
    /// # Shapes
    /// - returns `[1]`
    pub fn loss_with(&self, batch: &TensorBatch<B>, gates: &Gates<B>) -> Result<Tensor<B, 1>> {
        let encoder = self.bert.as_ref().zip(self.head.as_ref());
        task_loss(
            encoder,
            self.t5.as_ref(),
            batch,
            &self.supernet.hooks(gates)?,
        )
    }
}

/// The task loss of `batch` on a frozen backbone whose PEFT modules are
/// `hooks`: cross-entropy (classes) or MSE (scores) on an encoder's head,
/// transformers' seq2seq loss for T5. The search and retraining share it.
///
/// # Shapes
/// - returns `[1]`
pub fn task_loss<B: Backend, H: Hooks<B>>(
    encoder: Option<(&BertModel<B>, &BertHead<B>)>,
    t5: Option<&T5Model<B>>,
    batch: &TensorBatch<B>,
    hooks: &H,
) -> Result<Tensor<B, 1>> {
    if let Some((bert, head)) = encoder {
        let hidden = bert.forward(
            batch.input_ids.clone(),
            batch.token_type_ids.clone(),
            batch.attention_mask.clone(),
            hooks,
        );
        let logits = head.forward(hidden, batch.attention_mask.clone());
        return match &batch.targets {
            TensorTargets::Classes(classes) => Ok(CrossEntropyLossConfig::new()
                .init(&logits.device())
                .forward(logits, classes.clone())),
            TensorTargets::Scores(scores) => {
                let [n, _] = logits.dims();
                let diff = logits.reshape([n]) - scores.clone();
                Ok(diff.powi_scalar(2).mean().reshape([1]))
            }
            TensorTargets::Tokens { .. } => Err(Error::InvalidInput(
                "an encoder model needs class or score targets, not target text \
                 (tokenise with the encoder formulation)"
                    .into(),
            )),
        };
    }
    let t5 = t5.ok_or_else(|| Error::InvalidInput("the task model holds no backbone".into()))?;
    let TensorTargets::Tokens { ids, mask } = &batch.targets else {
        return Err(Error::InvalidInput(
            "a T5 model needs target text (tokenise with the text-to-text formulation)".into(),
        ));
    };
    // Padding in the targets is ignored by the loss: transformers' -100.
    let labels = ids.clone().mask_fill(mask.clone().equal_elem(0), -100);
    let logits = t5.forward_teacher_forced(
        batch.input_ids.clone(),
        batch.attention_mask.clone(),
        labels.clone(),
        hooks,
    )?;
    Ok(seq2seq_loss(logits, labels))
}

/// A loaded, not yet frozen encoder and its head for `num_labels` outputs.
pub fn encoder_parts<B: Backend>(
    config: &BertConfig,
    weights: &Weights,
    num_labels: usize,
    device: &B::Device,
) -> Result<(BertModel<B>, BertHead<B>)> {
    let bert = BertModel::from_weights(config, weights, device)?;
    let head = BertHeadConfig::new(config.hidden_size, num_labels)
        .with_pooling(Pooling::Cls)
        .with_initializer_range(config.initializer_range)
        .init_from_weights(&bert, weights, device)?;
    Ok((bert, head))
}

fn t5_model<B: Backend>(
    config: &T5Config,
    weights: &Weights,
    device: &B::Device,
) -> Result<T5Model<B>> {
    T5Model::from_weights(config, weights, device)
}

impl<B: AutodiffBackend> SearchModel<B> for TaskModel<B> {
    type Batch = TensorBatch<B>;

    /// A batch the model cannot take (wrong target kind) gives a NaN loss,
    /// which the search records as a skipped batch; the CLI checks the
    /// formulation before it starts, so this does not happen there.
    fn loss(&self, batch: &TensorBatch<B>, sample: &ArchSample<B>) -> Tensor<B, 1> {
        let gates = self.gates(sample);
        self.loss_with(batch, &gates).unwrap_or_else(|_| {
            Tensor::from_data(
                TensorData::new(vec![f32::NAN], [1]),
                &batch.input_ids.device(),
            )
        })
    }

    fn saliency(&self, grads: &GradientsParams) -> Vec<SlotSaliency<B::InnerBackend>> {
        let net = &self.supernet;
        let placement = &net.layout().placement;
        let modules = &net.modules;
        net.catalogue()
            .slots()
            .iter()
            .enumerate()
            .map(|(slot, s)| {
                let i = placement.module[slot];
                match s.kind {
                    Kind::Lora => module_saliency(&modules.lora[i], grads),
                    Kind::Adapter => module_saliency(&modules.adapter[i], grads),
                    Kind::BitFit => module_saliency(&modules.bitfit[i], grads),
                    Kind::LnFit => module_saliency(&modules.lnfit[i], grads),
                    Kind::SerialAdapter => module_saliency(&modules.serial_adapter[i], grads),
                    Kind::ParallelAdapter => module_saliency(&modules.parallel_adapter[i], grads),
                    Kind::Prefix => module_saliency(&modules.prefix[i], grads),
                }
            })
            .collect()
    }
}

//! Sequence classification / regression on top of the encoder, computing what
//! transformers' `BertForSequenceClassification` computes: the `[CLS]` state
//! through the pooler (dense + tanh), then a `classifier` linear to
//! `num_labels` logits (1 for regression). RoBERTa's `RobertaClassificationHead`
//! is the same function under other key names. With mean pooling there is no
//! pooler: the mean goes straight to the classifier.
//!
//! The head is trainable; the caller freezes the backbone.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Int, Tensor};

use super::config::{BertConfig, BertKind};
use super::linear::init_linear;
use super::load::load_linear;
use super::model::BertModel;
use super::pooling::{pool, Pooling};
// `crate::Result` is spelled out below: `derive(Config)` expands to code that
// needs the prelude's two-parameter `Result` in scope.
use crate::backbone::hooks::Hooks;
use crate::loader::Weights;

/// Shape of a classification head.
#[derive(Config, Debug)]
pub struct BertHeadConfig {
    pub hidden_size: usize,
    /// Classes; 1 for regression (STS-B).
    pub num_labels: usize,
    #[config(default = "Pooling::Cls")]
    pub pooling: Pooling,
    /// Standard deviation of fresh weights (config.json's `initializer_range`).
    #[config(default = 0.02)]
    pub initializer_range: f64,
}

/// Pooling, optional pooler, classifier.
#[derive(Module, Debug)]
pub struct BertHead<B: Backend> {
    /// `pooler.dense` (BERT) / `classifier.dense` (RoBERTa); only with [`Pooling::Cls`].
    pub pooler: Option<Linear<B>>,
    /// `classifier` (BERT) / `classifier.out_proj` (RoBERTa).
    pub classifier: Linear<B>,
    #[module(skip)]
    pub pooling: Pooling,
}

/// Where a head's tensors sit in a checkpoint of `kind` whose backbone keys
/// start with `prefix`: (pooler, classifier).
fn head_keys(kind: BertKind, prefix: &str) -> (String, String) {
    match kind {
        BertKind::Bert => (format!("{prefix}pooler.dense"), "classifier".into()),
        // RobertaForSequenceClassification skips RobertaModel's pooler and has
        // its own dense + tanh inside `classifier`.
        BertKind::Roberta => ("classifier.dense".into(), "classifier.out_proj".into()),
    }
}

impl BertHeadConfig {
    /// A fresh head (weights N(0, initializer_range), zero biases).
    pub fn init<B: Backend>(&self, device: &B::Device) -> BertHead<B> {
        let (h, std) = (self.hidden_size, self.initializer_range);
        BertHead {
            pooler: (self.pooling == Pooling::Cls).then(|| init_linear(h, h, std, device)),
            classifier: init_linear(h, self.num_labels, std, device),
            pooling: self.pooling,
        }
    }

    /// The head for `backbone`, taking from the checkpoint what it has: the
    /// pooler (for [`Pooling::Cls`]) and the classifier when their keys are
    /// present, fresh weights otherwise — as transformers does when it puts a
    /// new task head on a pretrained encoder. A present tensor of the wrong
    /// shape (another `num_labels`) is an error.
    pub fn init_from_weights<B: Backend>(
        &self,
        backbone: &BertModel<B>,
        weights: &Weights,
        device: &B::Device,
    ) -> crate::Result<BertHead<B>> {
        let (h, std) = (self.hidden_size, self.initializer_range);
        let (pooler_key, classifier_key) = head_keys(backbone.config.kind, &backbone.prefix);
        let linear = |key: &str, d_out: usize| -> crate::Result<Linear<B>> {
            if weights.contains(&format!("{key}.weight")) {
                load_linear(weights, key, h, d_out, device)
            } else {
                Ok(init_linear(h, d_out, std, device))
            }
        };
        let pooler = match self.pooling {
            Pooling::Cls => Some(linear(&pooler_key, h)?),
            Pooling::Mean => None,
        };
        Ok(BertHead {
            pooler,
            classifier: linear(&classifier_key, self.num_labels)?,
            pooling: self.pooling,
        })
    }
}

impl<B: Backend> BertHead<B> {
    /// Logits from the encoder's last hidden state.
    ///
    /// # Shapes
    /// - hidden: `[batch, seq, hidden]`, attention_mask: `[batch, seq]`
    /// - output: `[batch, num_labels]`
    pub fn forward(&self, hidden: Tensor<B, 3>, attention_mask: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let pooled = pool(hidden, attention_mask, self.pooling);
        let pooled = match &self.pooler {
            Some(dense) => dense.forward(pooled).tanh(),
            None => pooled,
        };
        self.classifier.forward(pooled)
    }
}

/// An encoder with a classification / regression head.
#[derive(Module, Debug)]
pub struct BertForSequenceClassification<B: Backend> {
    pub bert: BertModel<B>,
    pub head: BertHead<B>,
}

impl<B: Backend> BertForSequenceClassification<B> {
    /// Loads the encoder and, where the checkpoint has them, the head's tensors
    /// (see [`BertHeadConfig::init_from_weights`]).
    pub fn from_weights(
        config: &BertConfig,
        num_labels: usize,
        pooling: Pooling,
        weights: &Weights,
        device: &B::Device,
    ) -> crate::Result<Self> {
        let bert = BertModel::from_weights(config, weights, device)?;
        let head = BertHeadConfig::new(config.hidden_size, num_labels)
            .with_pooling(pooling)
            .with_initializer_range(config.initializer_range)
            .init_from_weights(&bert, weights, device)?;
        Ok(BertForSequenceClassification { bert, head })
    }

    /// # Shapes
    /// - input_ids, token_type_ids, attention_mask: `[batch, seq]`
    /// - output: `[batch, num_labels]`
    pub fn forward<H: Hooks<B> + ?Sized>(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        hooks: &H,
    ) -> Tensor<B, 2> {
        let hidden = self
            .bert
            .forward(input_ids, token_type_ids, attention_mask.clone(), hooks);
        self.head.forward(hidden, attention_mask)
    }
}

//! The BERT-family encoder: embeddings and a stack of post-LN blocks, returning
//! the last hidden state (transformers' `BertModel` / `RobertaModel` without
//! the pooler, which lives with the classification head).

use burn::module::Module;
use burn::tensor::{backend::Backend, Int, Tensor};

use super::config::BertConfig;
use super::embeddings::BertEmbeddings;
use super::layer::BertLayer;
use super::site::{all_sites, site_name};
use crate::backbone::hooks::{Hooks, Site};
use crate::error::{Error, Result};

/// A BERT, MiniLM or RoBERTa encoder.
#[derive(Module, Debug)]
pub struct BertModel<B: Backend> {
    pub embeddings: BertEmbeddings<B>,
    /// `encoder.layer.{i}`
    pub layers: Vec<BertLayer<B>>,
    #[module(skip)]
    pub config: BertConfig,
    /// What the checkpoint put in front of every backbone key: "" for a saved
    /// `BertModel`, "bert." / "roberta." for task models. Site names carry it
    /// so exported adapters name the modules the checkpoint names.
    #[module(skip)]
    pub prefix: String,
}

impl BertConfig {
    /// A randomly initialised encoder (as transformers initialises one), with no
    /// key prefix.
    pub fn init<B: Backend>(&self, device: &B::Device) -> BertModel<B> {
        BertModel {
            embeddings: BertEmbeddings::init(self, device),
            layers: (0..self.num_hidden_layers)
                .map(|_| BertLayer::init(self, device))
                .collect(),
            config: self.clone(),
            prefix: String::new(),
        }
    }
}

impl<B: Backend> BertModel<B> {
    /// The last hidden state. `attention_mask` is 1 for tokens and 0 for padding;
    /// padded positions get outputs too (as in transformers), which pooling ignores.
    /// Inputs are expected to pass [`Self::check_input`].
    ///
    /// # Shapes
    /// - input_ids, token_type_ids, attention_mask: `[batch, seq]`
    /// - output: `[batch, seq, hidden]`
    pub fn forward<H: Hooks<B> + ?Sized>(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let mask_bias = attention_mask_bias(attention_mask);
        let mut hidden = self.embeddings.forward(input_ids, token_type_ids, hooks);
        for (index, layer) in self.layers.iter().enumerate() {
            hidden = layer.forward(hidden, mask_bias.clone(), index, hooks);
        }
        hidden
    }

    /// Checks what can be checked without reading the tensors back: the three
    /// inputs share one non-empty shape that the position embeddings cover.
    /// (Token ids must also be below `vocab_size` and token types below
    /// `type_vocab_size`: see [`Self::check_ids`].)
    pub fn check_input(
        &self,
        input_ids: &Tensor<B, 2, Int>,
        token_type_ids: &Tensor<B, 2, Int>,
        attention_mask: &Tensor<B, 2, Int>,
    ) -> Result<()> {
        let shape = input_ids.dims();
        for (name, other) in [
            ("token_type_ids", token_type_ids.dims()),
            ("attention_mask", attention_mask.dims()),
        ] {
            if other != shape {
                return Err(Error::InvalidInput(format!(
                    "{name} has shape {other:?} but input_ids has {shape:?}"
                )));
            }
        }
        let [batch, seq] = shape;
        if batch == 0 || seq == 0 {
            return Err(Error::InvalidInput(format!(
                "empty batch of shape {shape:?}"
            )));
        }
        let max = self.config.max_sequence_length();
        if seq > max {
            return Err(Error::InvalidInput(format!(
                "sequence length {seq} exceeds the model's maximum of {max} tokens"
            )));
        }
        Ok(())
    }

    /// Checks token ids and token types on the host, before they become tensors.
    pub fn check_ids(&self, input_ids: &[u32], token_type_ids: &[u32]) -> Result<()> {
        let config = &self.config;
        if let Some(id) = input_ids
            .iter()
            .find(|&&id| id as usize >= config.vocab_size)
        {
            return Err(Error::InvalidInput(format!(
                "token id {id} is outside the vocabulary of {} tokens",
                config.vocab_size
            )));
        }
        if let Some(t) = token_type_ids
            .iter()
            .find(|&&t| t as usize >= config.type_vocab_size)
        {
            return Err(Error::InvalidInput(format!(
                "token type {t} is outside the model's {} token types",
                config.type_vocab_size
            )));
        }
        Ok(())
    }

    /// The checkpoint's module name of a hook site (`bert.encoder.layer.2.attention.self.query`),
    /// or `None` if this model has no such site.
    pub fn site_name(&self, site: Site) -> Option<String> {
        if !self.sites().contains(&site) {
            return None;
        }
        site_name(site, &self.prefix)
    }

    /// Every site this model's forward pass calls a hook at, in call order.
    pub fn sites(&self) -> Vec<Site> {
        all_sites(self.layers.len())
    }
}

/// The additive attention bias of a padding mask, as transformers' eager path
/// builds it: 0 where `mask` is 1, the most negative f32 where it is 0, so padded
/// keys get zero weight (and a fully padded row stays finite).
///
/// # Shapes
/// - mask: `[batch, seq]`
/// - output: `[batch, 1, 1, seq]`
pub fn attention_mask_bias<B: Backend>(mask: Tensor<B, 2, Int>) -> Tensor<B, 4> {
    let [batch, seq] = mask.dims();
    let padding = mask.float().neg() + 1.0;
    (padding * f32::MIN as f64).reshape([batch, 1, 1, seq])
}

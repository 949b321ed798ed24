//! Token, position and token-type embeddings, summed and normalised
//! (`BertEmbeddings` / `RobertaEmbeddings` in transformers).

use burn::module::Module;
use burn::nn::Embedding;
use burn::tensor::{backend::Backend, Int, Tensor};

use super::config::{BertConfig, BertKind};
use super::layer_norm::{BertLayerNorm, BertLayerNormConfig};
use super::linear::init_embedding;
use crate::backbone::hooks::{Hooks, Point, Site, Stack};

/// The embedding layer of a BERT-family encoder.
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    /// `word_embeddings`: `[vocab_size, hidden]`.
    pub word: Embedding<B>,
    /// `position_embeddings`: `[max_position_embeddings, hidden]`.
    pub position: Embedding<B>,
    /// `token_type_embeddings`: `[type_vocab_size, hidden]`.
    pub token_type: Embedding<B>,
    /// `LayerNorm`.
    pub norm: BertLayerNorm<B>,
    /// RoBERTa's padding id, from which its position ids count; `None` for BERT,
    /// whose position ids are `0..seq`.
    #[module(skip)]
    pub roberta_pad: Option<i64>,
}

impl<B: Backend> BertEmbeddings<B> {
    /// Randomly initialised embeddings (normal with `initializer_range`, as
    /// transformers' `_init_weights`).
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        let table =
            |rows| init_embedding(rows, config.hidden_size, config.initializer_range, device);
        BertEmbeddings {
            word: table(config.vocab_size),
            position: table(config.max_position_embeddings),
            token_type: table(config.type_vocab_size),
            norm: BertLayerNormConfig::new(config.hidden_size)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            roberta_pad: roberta_pad(config),
        }
    }

    /// # Shapes
    /// - input_ids, token_type_ids: `[batch, seq]`
    /// - output: `[batch, seq, hidden]`
    pub fn forward<H: Hooks<B> + ?Sized>(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        hooks: &H,
    ) -> Tensor<B, 3> {
        let [_, seq] = input_ids.dims();
        let device = input_ids.device();
        let position_ids = match self.roberta_pad {
            // transformers' `create_position_ids_from_input_ids`: non-padding tokens
            // count up from pad + 1, padding tokens sit at pad itself.
            Some(pad) => {
                let not_pad = input_ids.clone().not_equal_elem(pad).int();
                not_pad.clone().cumsum(1) * not_pad + pad
            }
            None => Tensor::<B, 1, Int>::arange(0..seq as i64, &device).unsqueeze::<2>(),
        };
        let summed = self.word.forward(input_ids)
            + self.token_type.forward(token_type_ids)
            + self.position.forward(position_ids);
        self.norm.forward(
            summed,
            Site::new(Stack::Encoder, 0, Point::EmbeddingNorm),
            hooks,
        )
    }
}

/// The padding id RoBERTa's position ids depend on, `None` for BERT.
pub(crate) fn roberta_pad(config: &BertConfig) -> Option<i64> {
    match config.kind {
        BertKind::Roberta => config.pad_token_id.map(|p| p as i64),
        BertKind::Bert => None,
    }
}

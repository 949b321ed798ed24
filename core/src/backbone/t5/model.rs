//! The whole T5 (`T5ForConditionalGeneration`): shared embedding, encoder,
//! decoder, LM head.
//!
//! LM head: original T5 reuses `shared.weight` and multiplies the decoder
//! output by `d_model^-0.5` first; T5 v1.1 / FLAN have their own `lm_head`
//! and no rescale (transformers: `scale_decoder_outputs` in `T5Config`,
//! `T5ForConditionalGeneration.forward`).

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{backend::Backend, Int, Tensor};

use super::block::CrossInput;
use super::config::T5Config;
use super::stack::{causal_bias, padding_bias, T5Stack, T5StackConfig};
use crate::backbone::Hooks;
use crate::error::{Error, Result};
use crate::flat::linear3;

/// A T5 encoder–decoder with its LM head.
#[derive(Module, Debug)]
pub struct T5Model<B: Backend> {
    /// Token embeddings of both stacks (`shared.weight`). `[vocab, d_model]`
    pub shared: Embedding<B>,
    pub encoder: T5Stack<B>,
    pub decoder: T5Stack<B>,
    /// Untied LM head (`lm_head.weight`, transposed): `[d_model, vocab]`.
    /// `None`: the head is `shared.weight` itself.
    pub lm_head: Option<Linear<B>>,
    #[module(skip)]
    pub config: T5Config,
}

impl T5Config {
    /// The encoder's or decoder's shape.
    pub fn stack_config(&self, is_decoder: bool) -> T5StackConfig {
        T5StackConfig::new(
            if is_decoder {
                self.num_decoder_layers
            } else {
                self.num_layers
            },
            self.d_model,
            self.d_kv,
            self.d_ff,
            self.num_heads,
            self.feed_forward(),
            self.layer_norm_epsilon,
            self.relative_attention_num_buckets,
            self.relative_attention_max_distance,
            is_decoder,
        )
    }

    /// A randomly initialised model (burn's initialisers, not T5's): for tests
    /// and shapes. Pretrained weights come from [`T5Model::from_weights`].
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<T5Model<B>> {
        self.validate()?;
        Ok(T5Model {
            shared: EmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
            encoder: self.stack_config(false).init(device),
            decoder: self.stack_config(true).init(device),
            lm_head: self.has_untied_lm_head().then(|| {
                LinearConfig::new(self.d_model, self.vocab_size)
                    .with_bias(false)
                    .init(device)
            }),
            config: self.clone(),
        })
    }
}

impl<B: Backend> T5Model<B> {
    /// Same as [`T5Config::init`].
    pub fn init_random(config: &T5Config, device: &B::Device) -> Result<Self> {
        config.init(device)
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &T5Config {
        &self.config
    }

    /// Runs the encoder.
    ///
    /// # Shapes
    /// - input_ids, attention_mask: `[batch, src_len]` (mask: 1 = token, 0 = padding)
    /// - output: `[batch, src_len, d_model]`
    pub fn encode<H: Hooks<B>>(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        hooks: &H,
    ) -> Result<Tensor<B, 3>> {
        let [batch, len] = input_ids.dims();
        check_tokens("input_ids", batch, len)?;
        check_same(
            "attention_mask",
            attention_mask.dims(),
            "input_ids",
            [batch, len],
        )?;
        let embeddings = self.shared.forward(input_ids);
        Ok(self
            .encoder
            .forward(embeddings, padding_bias(attention_mask), None, hooks))
    }

    /// Runs the decoder over `decoder_input_ids` (causally) against the encoder
    /// output and returns the LM logits.
    ///
    /// # Shapes
    /// - decoder_input_ids: `[batch, tgt_len]`
    /// - encoder_states: `[batch, src_len, d_model]`
    /// - encoder_mask: `[batch, src_len]`
    /// - output: `[batch, tgt_len, vocab]`
    pub fn decode<H: Hooks<B>>(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        encoder_states: Tensor<B, 3>,
        encoder_mask: Tensor<B, 2, Int>,
        hooks: &H,
    ) -> Result<Tensor<B, 3>> {
        let hidden = self.decoder_hidden(decoder_input_ids, encoder_states, encoder_mask, hooks)?;
        Ok(self.lm_logits(hidden))
    }

    /// The decoder's last hidden state (after its final norm), before the LM head.
    ///
    /// # Shapes
    /// - as [`T5Model::decode`]; output: `[batch, tgt_len, d_model]`
    pub fn decoder_hidden<H: Hooks<B>>(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        encoder_states: Tensor<B, 3>,
        encoder_mask: Tensor<B, 2, Int>,
        hooks: &H,
    ) -> Result<Tensor<B, 3>> {
        let [batch, len] = decoder_input_ids.dims();
        check_tokens("decoder_input_ids", batch, len)?;
        let [states_batch, src_len, width] = encoder_states.dims();
        if states_batch != batch || width != self.config.d_model {
            return Err(Error::InvalidInput(format!(
                "encoder_states has shape [{states_batch}, {src_len}, {width}], expected [{batch}, _, {}]",
                self.config.d_model
            )));
        }
        check_same(
            "encoder_mask",
            encoder_mask.dims(),
            "encoder_states",
            [batch, src_len],
        )?;
        let device = encoder_states.device();
        let cross = CrossInput {
            states: encoder_states,
            bias: padding_bias(encoder_mask),
        };
        let embeddings = self.shared.forward(decoder_input_ids);
        Ok(self
            .decoder
            .forward(embeddings, causal_bias(len, &device), Some(&cross), hooks))
    }

    /// The LM head over decoder hidden states.
    ///
    /// # Shapes
    /// - hidden: `[batch, tgt_len, d_model]`
    /// - output: `[batch, tgt_len, vocab]`
    pub fn lm_logits(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let hidden = if self.config.scale_decoder_outputs {
            hidden * (self.config.d_model as f64).powf(-0.5)
        } else {
            hidden
        };
        match &self.lm_head {
            Some(head) => linear3(head, hidden),
            // burn's `linear` takes [in, out]: shared.weight is [vocab, d_model].
            None => {
                burn::tensor::module::linear(hidden, self.shared.weight.val().transpose(), None)
            }
        }
    }

    /// Teacher-forced logits for `labels`, as `model(input_ids, attention_mask,
    /// labels=labels).logits` in transformers: the decoder reads the labels
    /// shifted right behind `decoder_start_token_id`, with `-100` read as pad.
    ///
    /// # Shapes
    /// - input_ids, attention_mask: `[batch, src_len]`
    /// - labels: `[batch, tgt_len]` (`-100` = ignored)
    /// - output: `[batch, tgt_len, vocab]`
    pub fn forward_teacher_forced<H: Hooks<B>>(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        labels: Tensor<B, 2, Int>,
        hooks: &H,
    ) -> Result<Tensor<B, 3>> {
        let [batch, len] = labels.dims();
        check_tokens("labels", batch, len)?;
        let encoder_states = self.encode(input_ids, attention_mask.clone(), hooks)?;
        self.decode(
            self.shift_right(labels),
            encoder_states,
            attention_mask,
            hooks,
        )
    }

    /// Decoder inputs from labels: `[start, l0, …, l(n-2)]`, negative labels
    /// (`-100`) replaced by pad (transformers' `_shift_right`). On the device.
    ///
    /// # Shapes
    /// - labels, output: `[batch, tgt_len]`
    pub fn shift_right(&self, labels: Tensor<B, 2, Int>) -> Tensor<B, 2, Int> {
        let [batch, len] = labels.dims();
        let start = Tensor::<B, 2, Int>::full(
            [batch, 1],
            self.config.decoder_start_token_id as i64,
            &labels.device(),
        );
        let shifted = if len > 1 {
            Tensor::cat(vec![start, labels.slice([0..batch, 0..len - 1])], 1)
        } else {
            start
        };
        let ignored = shifted.clone().lower_elem(0);
        shifted.mask_fill(ignored, self.config.pad_token_id as i64)
    }
}

fn check_tokens(name: &str, batch: usize, len: usize) -> Result<()> {
    if batch == 0 || len == 0 {
        return Err(Error::InvalidInput(format!(
            "{name} has shape [{batch}, {len}]: a T5 batch needs at least one sequence of one token"
        )));
    }
    Ok(())
}

fn check_same(name: &str, found: [usize; 2], other: &str, expected: [usize; 2]) -> Result<()> {
    if found != expected {
        return Err(Error::InvalidInput(format!(
            "{name} has shape {found:?}, but {other} needs {expected:?}"
        )));
    }
    Ok(())
}

//! Greedy decoding without reading tensors back while generating.
//!
//! WebGPU forbids synchronous reads, and an async read per step would stall
//! the device queue anyway, so the loop never asks whether every row has
//! finished: it runs all `max_new_tokens` steps with an on-device argmax and
//! replaces tokens after a row's EOS by pad (as transformers' `generate` pads
//! finished rows). The caller reads the ids once at the end.
//!
//! There is no KV cache: each step re-runs the decoder over the prefix. Labels
//! of the tasks bipeft trains on are a few tokens long, where this costs little.

use burn::tensor::{backend::Backend, Bool, Int, Tensor};

use super::model::T5Model;
use crate::backbone::Hooks;
use crate::error::Result;

impl<B: Backend> T5Model<B> {
    /// Greedy generation: `[decoder_start, t1, …, t_max_new_tokens]` per row,
    /// pad after the first EOS. Hooks fire in the encoder once and in the
    /// decoder at every step.
    ///
    /// # Shapes
    /// - input_ids, attention_mask: `[batch, src_len]`
    /// - output: `[batch, 1 + max_new_tokens]`
    pub fn generate_greedy<H: Hooks<B>>(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        max_new_tokens: usize,
        hooks: &H,
    ) -> Result<Tensor<B, 2, Int>> {
        let encoder_states = self.encode(input_ids, attention_mask.clone(), hooks)?;
        let [batch, _, _] = encoder_states.dims();
        let device = encoder_states.device();
        let pad = self.config.pad_token_id as i64;

        let mut ids = Tensor::<B, 2, Int>::full(
            [batch, 1],
            self.config.decoder_start_token_id as i64,
            &device,
        );
        let mut finished = Tensor::<B, 2, Bool>::full([batch, 1], false, &device);
        for _ in 0..max_new_tokens {
            let logits = self.decode(
                ids.clone(),
                encoder_states.clone(),
                attention_mask.clone(),
                hooks,
            )?;
            let [_, len, vocab] = logits.dims();
            let next = logits
                .slice([0..batch, len - 1..len, 0..vocab])
                .argmax(2)
                .reshape([batch, 1])
                .mask_fill(finished.clone(), pad);
            for &eos in &self.config.eos_token_id {
                finished = finished.bool_or(next.clone().equal_elem(eos as i64));
            }
            ids = Tensor::cat(vec![ids, next], 1);
        }
        Ok(ids)
    }
}

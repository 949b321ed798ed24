//! Prefix-tuning of S2, per self-attention layer, with a zero-initialised gate.
//!
//! As in the reference (`PrefixTuningSearch`): a shared trunk, an embedding of
//! `length × d_model` followed by `d_model → bottleneck` (2) and ReLU; then,
//! per layer, `bottleneck → 2·inner` giving that layer's prefix keys and values.
//! Inside self-attention the prefix gets its own softmax and enters through a
//! scalar gate starting at zero:
//!
//! `context + gate · softmax(q K_pᵀ) V_p`
//!
//! (the reference's `prefix_gate * softmax(prefix_scores) @ prefix_values`,
//! added to the attention output before the heads are merged), so a zero gate
//! is exactly the identity.
//!
//! Differences from the reference, both forced by the hook design (the hook
//! sees only the per-head query and context): the per-layer MLP emits keys and
//! values in the heads' space directly, where the reference sends its `2·d`
//! output through the frozen (LoRA-adapted) `k` and `v` linears; the two are the
//! same function family, since a linear map after the MLP's last linear layer
//! is again a linear layer. And a prefix of length `ℓ` attends over exactly its
//! first `ℓ` rows, where the reference zeroes the rows beyond `ℓ`, which then
//! still take a share of the softmax.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{activation, backend::Backend, Tensor};

use super::ops::{linear_default_bound, normal, uniform, zeros};

/// Shape of the shared prefix trunk.
#[derive(Config, Debug)]
pub struct PrefixTrunkConfig {
    pub d_model: usize,
    /// Rows of the embedding: the longest prefix any layer uses.
    pub length: usize,
    #[config(default = 2)]
    pub bottleneck: usize,
}

impl PrefixTrunkConfig {
    /// Embedding N(0, 1) and linear as PyTorch's defaults.
    pub fn init<B: Backend>(&self, device: &B::Device) -> PrefixTrunk<B> {
        let bound = linear_default_bound(self.d_model);
        PrefixTrunk {
            embedding: normal([self.length, self.d_model], 1.0, device),
            down: uniform([self.d_model, self.bottleneck], bound, device),
            down_bias: uniform([self.bottleneck], bound, device),
        }
    }
}

/// The part of the prefix MLP all layers share.
#[derive(Module, Debug)]
pub struct PrefixTrunk<B: Backend> {
    /// `[length, d_model]`.
    pub embedding: Param<Tensor<B, 2>>,
    /// `[d_model, bottleneck]`.
    pub down: Param<Tensor<B, 2>>,
    /// `[bottleneck]`.
    pub down_bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> PrefixTrunk<B> {
    pub fn length(&self) -> usize {
        self.embedding.dims()[0]
    }

    /// A copy with only the first `length` embedding rows.
    pub fn truncate(&self, length: usize) -> crate::Result<Self> {
        if length == 0 || length > self.length() {
            return Err(crate::Error::InvalidInput(format!(
                "cannot cut a length-{} prefix trunk to length {length}",
                self.length()
            )));
        }
        let d = self.embedding.dims()[1];
        Ok(PrefixTrunk {
            embedding: Param::from_tensor(self.embedding.val().slice([0..length, 0..d])),
            down: self.down.clone(),
            down_bias: self.down_bias.clone(),
        })
    }

    /// `relu(E D + d)`: `[length, bottleneck]`, computed once per forward pass.
    pub fn forward(&self) -> Tensor<B, 2> {
        let b = self.down_bias.dims()[0];
        activation::relu(
            self.embedding.val().matmul(self.down.val()) + self.down_bias.val().reshape([1, b]),
        )
    }
}

/// Shape of one layer's prefix.
#[derive(Config, Debug)]
pub struct PrefixLayerConfig {
    pub heads: usize,
    pub d_kv: usize,
    #[config(default = 2)]
    pub bottleneck: usize,
}

impl PrefixLayerConfig {
    /// Up projection as PyTorch's linear default; gate zero.
    pub fn init<B: Backend>(&self, device: &B::Device) -> PrefixLayer<B> {
        let width = 2 * self.heads * self.d_kv;
        let bound = linear_default_bound(self.bottleneck);
        PrefixLayer {
            up: uniform([self.bottleneck, width], bound, device),
            up_bias: uniform([width], bound, device),
            gate: zeros([1], device),
            heads: self.heads,
        }
    }
}

/// One layer's share of the prefix: its up projection and its gate.
#[derive(Module, Debug)]
pub struct PrefixLayer<B: Backend> {
    /// `[bottleneck, 2·heads·d_kv]`: keys, then values.
    pub up: Param<Tensor<B, 2>>,
    /// `[2·heads·d_kv]`.
    pub up_bias: Param<Tensor<B, 1>>,
    /// `[1]`.
    pub gate: Param<Tensor<B, 1>>,
    pub heads: usize,
}

impl<B: Backend> PrefixLayer<B> {
    /// Prefix keys and values per head, from the trunk's output.
    ///
    /// # Shapes
    /// - trunk: `[length, bottleneck]` → `([heads, length, d_kv], [heads, length, d_kv])`
    pub fn key_values(&self, trunk: Tensor<B, 2>) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let length = trunk.dims()[0];
        let width = self.up_bias.dims()[0];
        let kv = trunk.matmul(self.up.val()) + self.up_bias.val().reshape([1, width]);
        let inner = width / 2;
        let d_kv = inner / self.heads;
        let per_head = |t: Tensor<B, 2>| t.reshape([length, self.heads, d_kv]).swap_dims(0, 1);
        (
            per_head(kv.clone().slice([0..length, 0..inner])),
            per_head(kv.slice([0..length, inner..width])),
        )
    }

    /// `softmax(q K[:ℓ]ᵀ) V[:ℓ]`, the prefix's own attention at length `ℓ`.
    ///
    /// # Shapes
    /// - query: `[batch, heads, seq, d_kv]`, keys, values: `[heads, length, d_kv]`
    ///   → `[batch, heads, seq, d_kv]`
    pub fn attend(
        query: Tensor<B, 4>,
        keys: Tensor<B, 3>,
        values: Tensor<B, 3>,
        length: usize,
    ) -> Tensor<B, 4> {
        let [batch, heads, seq, d_kv] = query.dims();
        let keys = keys.slice([0..heads, 0..length, 0..d_kv]);
        let values = values.slice([0..heads, 0..length, 0..d_kv]);
        // Heads first, batch and positions flattened: plain batched matmuls
        // over `heads`, no broadcasting of the shared prefix across the batch.
        let q = query.swap_dims(0, 1).reshape([heads, batch * seq, d_kv]);
        let weights = activation::softmax(q.matmul(keys.swap_dims(1, 2)), 2);
        weights
            .matmul(values)
            .reshape([heads, batch, seq, d_kv])
            .swap_dims(0, 1)
    }

    /// `context + gate · attend(ℓ)` for a prefix of length `length`.
    ///
    /// # Shapes
    /// - trunk: `[trunk length, bottleneck]`, query, context: `[batch, heads, seq, d_kv]`
    pub fn forward(
        &self,
        trunk: Tensor<B, 2>,
        query: Tensor<B, 4>,
        context: Tensor<B, 4>,
        length: usize,
    ) -> Tensor<B, 4> {
        let (keys, values) = self.key_values(trunk);
        let prefix = Self::attend(query, keys, values, length);
        context + prefix * self.gate.val().reshape([1, 1, 1, 1])
    }

    /// A mixture over prefix lengths: `context + gate · Σₖ wₖ·attend(ℓₖ)`,
    /// where `weights` (`[lengths]`, the "on" sample times the length sample)
    /// carry the architecture gradient.
    pub fn forward_mixed(
        &self,
        trunk: Tensor<B, 2>,
        query: Tensor<B, 4>,
        context: Tensor<B, 4>,
        lengths: &[usize],
        weights: Tensor<B, 1>,
    ) -> Tensor<B, 4> {
        let (keys, values) = self.key_values(trunk);
        let mut mixed: Option<Tensor<B, 4>> = None;
        for (k, &length) in lengths.iter().enumerate() {
            let w = weights.clone().narrow(0, k, 1).reshape([1, 1, 1, 1]);
            let term = Self::attend(query.clone(), keys.clone(), values.clone(), length) * w;
            mixed = Some(match mixed {
                Some(sum) => sum + term,
                None => term,
            });
        }
        match mixed {
            Some(prefix) => context + prefix * self.gate.val().reshape([1, 1, 1, 1]),
            None => context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, TensorData, Tolerance};

    type B = Flex<f32>;
    type AB = Autodiff<Flex<f32>>;

    #[test]
    fn zero_gate_is_the_identity() {
        let dev = Default::default();
        let trunk = PrefixTrunkConfig::new(8, 4).init::<B>(&dev);
        let layer = PrefixLayerConfig::new(2, 4).init::<B>(&dev);
        let q = Tensor::<B, 4>::random([3, 2, 5, 4], Distribution::Default, &dev);
        let ctx = Tensor::<B, 4>::random([3, 2, 5, 4], Distribution::Default, &dev);
        let out = layer.forward(trunk.forward(), q.clone(), ctx.clone(), 4);
        out.into_data().assert_eq(&ctx.clone().into_data(), true);
        let w = Tensor::<B, 1>::from_floats([0.2, 0.3, 0.5], &dev);
        let mixed = layer.forward_mixed(trunk.forward(), q, ctx.clone(), &[1, 2, 4], w);
        mixed.into_data().assert_eq(&ctx.into_data(), true);
    }

    /// One head, d_kv 1, bottleneck 1; trunk output h = [[1], [2]] gives keys
    /// [1, 2]·k and values [1, 2]·v for up = [[k, v]] and no bias.
    fn hand_made<Bk: Backend>(gate: f32) -> (Tensor<Bk, 2>, PrefixLayer<Bk>) {
        let dev = Default::default();
        let trunk = Tensor::from_floats([[1.0], [2.0]], &dev);
        let layer = PrefixLayer {
            up: Param::from_tensor(Tensor::from_floats([[1.0, 3.0]], &dev)),
            up_bias: Param::from_tensor(Tensor::zeros([2], &dev)),
            gate: Param::from_tensor(Tensor::from_floats([gate], &dev)),
            heads: 1,
        };
        (trunk, layer)
    }

    #[test]
    fn hand_computed_prefix_attention() {
        let dev = Default::default();
        let (trunk, layer) = hand_made::<B>(0.5);
        // Keys [1, 2], values [3, 6]; query 1 → scores [1, 2], softmax p = [1, e]/(1+e).
        let q = Tensor::<B, 4>::from_floats([[[[1.0]]]], &dev);
        let ctx = Tensor::<B, 4>::from_floats([[[[10.0]]]], &dev);
        let e = std::f32::consts::E;
        let full = (3.0 + 6.0 * e) / (1.0 + e);
        layer
            .forward(trunk.clone(), q.clone(), ctx.clone(), 2)
            .into_data()
            .assert_approx_eq::<f32>(
                &TensorData::from([[[[10.0 + 0.5 * full]]]]),
                Tolerance::absolute(1e-5),
            );
        // Length 1: only the first row, softmax of one score is 1 → value 3.
        layer
            .forward(trunk.clone(), q.clone(), ctx.clone(), 1)
            .into_data()
            .assert_approx_eq::<f32>(
                &TensorData::from([[[[11.5f32]]]]),
                Tolerance::absolute(1e-5),
            );
        // Mixture 0.25·length 1 + 0.75·length 2.
        let w = Tensor::<B, 1>::from_floats([0.25, 0.75], &dev);
        let expected = 10.0 + 0.5 * (0.25 * 3.0 + 0.75 * full);
        layer
            .forward_mixed(trunk, q, ctx, &[1, 2], w)
            .into_data()
            .assert_approx_eq::<f32>(
                &TensorData::from([[[[expected]]]]),
                Tolerance::absolute(1e-5),
            );
    }

    #[test]
    fn gradient_reaches_length_weights_and_gate() {
        let dev = Default::default();
        let (trunk, layer) = hand_made::<AB>(0.5);
        let q = Tensor::<AB, 4>::from_floats([[[[1.0]]]], &dev);
        let ctx = Tensor::<AB, 4>::from_floats([[[[10.0]]]], &dev);
        let w = Tensor::<AB, 1>::from_floats([0.25, 0.75], &dev).require_grad();
        let grads = layer
            .forward_mixed(trunk, q, ctx, &[1, 2], w.clone())
            .sum()
            .backward();
        let e = std::f32::consts::E;
        let full = (3.0 + 6.0 * e) / (1.0 + e);
        w.grad(&grads).unwrap().into_data().assert_approx_eq::<f32>(
            &TensorData::from([0.5 * 3.0, 0.5 * full]),
            Tolerance::absolute(1e-5),
        );
        let g_gate = layer.gate.grad(&grads).unwrap().into_data();
        g_gate.assert_approx_eq::<f32>(
            &TensorData::from([0.25 * 3.0 + 0.75 * full]),
            Tolerance::absolute(1e-5),
        );
    }
}

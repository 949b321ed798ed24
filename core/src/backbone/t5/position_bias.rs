//! T5's relative position bias: a learned scalar per head and per bucket of
//! the distance `key_position − query_position`, added to the attention scores.
//!
//! Truth: `T5Attention._relative_position_bucket` and `compute_bias` in
//! transformers' `modeling_t5.py` (after Mesh TensorFlow's
//! `transformer_layers.py`). Half the buckets are exact distances, the other
//! half grow logarithmically up to `max_distance`; the encoder's buckets are
//! bidirectional, the decoder's only look back.
//!
//! The bucket of every (query, key) pair depends on the lengths alone, so it is
//! computed on the host and uploaded: no device read, no float log on the device.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig};
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

/// The bucket of one relative position `key − query`, bit for bit as
/// transformers computes it (float32 log, truncation toward zero).
pub fn relative_position_bucket(
    relative_position: i64,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> usize {
    let mut num_buckets = num_buckets as i64;
    let mut bucket = 0i64;
    let distance = if bidirectional {
        num_buckets /= 2;
        if relative_position > 0 {
            bucket += num_buckets;
        }
        relative_position.abs()
    } else {
        // Only keys at or before the query count; later ones share bucket 0.
        (-relative_position).max(0)
    };
    let max_exact = num_buckets / 2;
    if distance < max_exact {
        return (bucket + distance) as usize;
    }
    // torch: log(float32(distance) / max_exact) / math.log(max_distance / max_exact)
    //        * (num_buckets - max_exact), in float32, then .to(long).
    let ratio = distance as f32 / max_exact as f32;
    let scale = ((max_distance as f64) / (max_exact as f64)).ln() as f32;
    let large = max_exact + (ratio.ln() / scale * (num_buckets - max_exact) as f32) as i64;
    (bucket + large.min(num_buckets - 1)) as usize
}

/// Buckets for every (query, key) pair of a `[query_len, key_len]` grid.
pub fn bucket_grid(
    query_len: usize,
    key_len: usize,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> Vec<i64> {
    let mut grid = Vec::with_capacity(query_len * key_len);
    for query in 0..query_len as i64 {
        for key in 0..key_len as i64 {
            let bucket =
                relative_position_bucket(key - query, bidirectional, num_buckets, max_distance);
            grid.push(bucket as i64);
        }
    }
    grid
}

/// Settings of a [`RelativePositionBias`].
#[derive(Config, Debug)]
pub struct RelativePositionBiasConfig {
    pub num_heads: usize,
    #[config(default = 32)]
    pub num_buckets: usize,
    #[config(default = 128)]
    pub max_distance: usize,
    /// `true` in the encoder, `false` (causal) in the decoder.
    #[config(default = true)]
    pub bidirectional: bool,
}

impl RelativePositionBiasConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> RelativePositionBias<B> {
        RelativePositionBias {
            embedding: EmbeddingConfig::new(self.num_buckets, self.num_heads).init(device),
            num_buckets: self.num_buckets,
            max_distance: self.max_distance,
            bidirectional: self.bidirectional,
        }
    }
}

/// The `relative_attention_bias` of a stack's first self-attention.
#[derive(Module, Debug)]
pub struct RelativePositionBias<B: Backend> {
    /// One scalar per bucket and head. `[num_buckets, num_heads]`
    pub embedding: Embedding<B>,
    pub num_buckets: usize,
    pub max_distance: usize,
    pub bidirectional: bool,
}

impl<B: Backend> RelativePositionBias<B> {
    /// The bias of every head for a `query_len × key_len` attention.
    ///
    /// # Shapes
    /// - output: `[1, num_heads, query_len, key_len]`
    pub fn forward(&self, query_len: usize, key_len: usize) -> Tensor<B, 4> {
        let device = self.embedding.weight.device();
        let grid = bucket_grid(
            query_len,
            key_len,
            self.bidirectional,
            self.num_buckets,
            self.max_distance,
        );
        let buckets =
            Tensor::<B, 2, Int>::from_data(TensorData::new(grid, [query_len, key_len]), &device);
        // [query, key, heads] → [1, heads, query, key]
        self.embedding
            .forward(buckets)
            .permute([2, 0, 1])
            .unsqueeze::<4>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_of_t5_defaults() {
        // Bidirectional, 32 buckets: 0..8 exact to the left, 16..24 to the right.
        let b = |rel| relative_position_bucket(rel, true, 32, 128);
        assert_eq!(b(0), 0);
        assert_eq!(b(-3), 3);
        assert_eq!(b(3), 19);
        assert_eq!(b(-1000), 15);
        assert_eq!(b(1000), 31);
        // Causal: future positions all fall in bucket 0.
        let c = |rel| relative_position_bucket(rel, false, 32, 128);
        assert_eq!(c(5), 0);
        assert_eq!(c(-5), 5);
        assert_eq!(c(-1000), 31);
    }

    #[test]
    fn bias_is_embedding_of_bucket_per_head() {
        type B = burn::backend::Flex<f32>;
        let device = Default::default();
        let mut bias = RelativePositionBiasConfig::new(2)
            .with_num_buckets(4)
            .with_max_distance(8)
            .init::<B>(&device);
        // bucket i, head h → 10 i + h
        bias.embedding.weight = burn::module::Param::from_tensor(Tensor::from_floats(
            [[0.0, 1.0], [10.0, 11.0], [20.0, 21.0], [30.0, 31.0]],
            &device,
        ));
        let out = bias.forward(2, 3).into_data().to_vec::<f32>().unwrap();
        let mut expected = Vec::new();
        for head in 0..2 {
            for q in 0..2i64 {
                for k in 0..3i64 {
                    expected.push(
                        10.0 * relative_position_bucket(k - q, true, 4, 8) as f32 + head as f32,
                    );
                }
            }
        }
        assert_eq!(out, expected);
    }
}

//! One slot of a search space, and the parameter count of a module of each
//! kind (docs/algorithm.md §2: what the budget counts).

use serde::{Deserialize, Serialize};

use crate::backbone::hooks::Site;
use crate::error::Result;
use crate::peft::PeftOptions;

use super::kind::Kind;

/// A place where one PEFT module may be inserted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// Stable name: the Hugging Face module path of the site
    /// (`encoder.block.3.layer.0.SelfAttention.q`). With `kind` it is unique.
    pub name: String,
    pub kind: Kind,
    pub site: Site,
    /// Widths the module sees (see [`SiteInfo`](super::sites::SiteInfo)).
    pub d_in: usize,
    pub d_out: usize,
    /// Candidate ranks (LoRA / adapter rank, bottleneck width, prefix length),
    /// strictly increasing; empty for on/off slots.
    pub ranks: Vec<usize>,
    /// Trainable parameters of the module at each candidate rank; one entry for
    /// an on/off slot.
    pub params: Vec<u64>,
}

impl Slot {
    pub fn is_rank_searchable(&self) -> bool {
        !self.ranks.is_empty()
    }

    /// The largest candidate rank (0 for an on/off slot).
    pub fn max_rank(&self) -> usize {
        self.ranks.last().copied().unwrap_or(0)
    }

    /// Parameters at the largest candidate rank: the slot's share of the full supernet.
    pub fn max_params(&self) -> u64 {
        self.params.iter().copied().max().unwrap_or(0)
    }

    /// Parameters at `rank` (`None` for an on/off slot), or `None` if `rank` is
    /// not a candidate.
    pub fn params_at(&self, rank: Option<usize>) -> Option<u64> {
        match rank {
            None if self.ranks.is_empty() => self.params.first().copied(),
            Some(r) => self
                .ranks
                .iter()
                .position(|&c| c == r)
                .map(|i| self.params[i]),
            None => None,
        }
    }
}

/// Trainable parameters of one module of `kind` at a site of widths
/// `d_in → d_out`, at `rank` (ignored by on/off kinds).
///
/// - LoRA: `r·(d_in + d_out)`.
/// - Low-rank adapter at width `d`, bottleneck `b = d / reduction`:
///   down `r·(d + b) + b`, up `r·(b + d) + d`.
/// - BitFit: the output width; LNFit: the normalised width.
/// - Serial / parallel adapter of bottleneck `w`: `d·w + w` down, `w·d + d` up.
/// - Prefix (one layer's share): the MLP's per-layer up projection
///   `bottleneck → 2·inner` with its bias, and the scalar gate; the same at
///   every length. The shared trunk is counted apart ([`prefix_trunk_params`]).
pub fn module_params(
    kind: Kind,
    d_in: usize,
    d_out: usize,
    rank: usize,
    options: &PeftOptions,
) -> Result<u64> {
    let (d_in, d_out, r) = (d_in as u64, d_out as u64, rank as u64);
    Ok(match kind {
        Kind::Lora => r * (d_in + d_out),
        Kind::Adapter => {
            let b = options.adapter_bottleneck(d_out as usize)? as u64;
            r * (d_out + b) + b + r * (b + d_out) + d_out
        }
        Kind::BitFit | Kind::LnFit => d_out,
        Kind::SerialAdapter | Kind::ParallelAdapter => d_out * r + r + r * d_out + d_out,
        Kind::Prefix => {
            let bottleneck = options.prefix_bottleneck as u64;
            bottleneck * 2 * d_out + 2 * d_out + 1
        }
    })
}

/// Parameters of the prefix trunk that all prefix slots share: a
/// `length × d_model` embedding and the MLP's `d_model → bottleneck` layer with its bias.
pub fn prefix_trunk_params(max_length: usize, d_model: usize, options: &PeftOptions) -> u64 {
    let (l, d, b) = (
        max_length as u64,
        d_model as u64,
        options.prefix_bottleneck as u64,
    );
    l * d + d * b + b
}

/// The shared parts that modules of these kinds and ranks need: the prefix
/// trunk, as long as the longest prefix, when there is any prefix.
pub fn shared_parts(
    modules: impl Iterator<Item = (Kind, usize)>,
    d_model: usize,
    options: &PeftOptions,
) -> Vec<SharedPart> {
    modules
        .filter(|&(kind, _)| kind == Kind::Prefix)
        .map(|(_, length)| length)
        .max()
        .map(|length| SharedPart {
            name: PREFIX_TRUNK.into(),
            kind: Kind::Prefix,
            params: prefix_trunk_params(length, d_model, options),
        })
        .into_iter()
        .collect()
}

/// Name of the shared prefix trunk in catalogues and configurations.
pub const PREFIX_TRUNK: &str = "prefix_trunk";

/// Parameters shared by several slots (today only the prefix trunk), present
/// once as soon as one of its slots is on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedPart {
    pub name: String,
    /// The kind of the slots that use it.
    pub kind: Kind,
    pub params: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_for_t5_large_widths() {
        let o = PeftOptions::default();
        assert_eq!(
            module_params(Kind::Lora, 1024, 1024, 8, &o).unwrap(),
            16_384
        );
        assert_eq!(module_params(Kind::Lora, 1024, 4096, 1, &o).unwrap(), 5_120);
        // Adapter at d = 1024, b = 32, r = 4: 4·1056 + 32 + 4·1056 + 1024.
        assert_eq!(
            module_params(Kind::Adapter, 1024, 1024, 4, &o).unwrap(),
            9_504
        );
        assert_eq!(
            module_params(Kind::BitFit, 1024, 4096, 0, &o).unwrap(),
            4_096
        );
        assert_eq!(
            module_params(Kind::LnFit, 1024, 1024, 0, &o).unwrap(),
            1_024
        );
        // Serial adapter, w = 8: 8192 + 8 + 8192 + 1024.
        assert_eq!(
            module_params(Kind::SerialAdapter, 1024, 1024, 8, &o).unwrap(),
            17_416
        );
        // Prefix layer: 2·2048 + 2048 + 1.
        assert_eq!(
            module_params(Kind::Prefix, 1024, 1024, 4, &o).unwrap(),
            6_145
        );
        assert_eq!(prefix_trunk_params(8, 1024, &o), 8 * 1024 + 2048 + 2);
    }

    #[test]
    fn params_at() {
        let slot = Slot {
            name: "x".into(),
            kind: Kind::Lora,
            site: Site::new(
                crate::backbone::hooks::Stack::Encoder,
                0,
                crate::backbone::hooks::Point::Query,
            ),
            d_in: 4,
            d_out: 4,
            ranks: vec![1, 2],
            params: vec![8, 16],
        };
        assert_eq!(slot.params_at(Some(2)), Some(16));
        assert_eq!(slot.params_at(Some(3)), None);
        assert_eq!(slot.params_at(None), None);
        assert_eq!(slot.max_params(), 16);
    }
}

//! The built-in spaces: `s1` (S3Delta: LoRA, low-rank adapter, BitFit, LNFit),
//! `s2` (AutoPEFT: serial and parallel adapters, prefix) and `lora`
//! (docs/algorithm.md §2). They name hook points, not module paths, so each applies
//! to T5 and to BERT-family encoders alike: points a family lacks (T5 has no
//! embedding LayerNorm, BERT no final or cross-attention norm) simply match nothing.

use crate::backbone::hooks::Point;
use crate::error::{Error, Result};

use super::def::{Rule, SpaceDef};
use super::kind::Kind;

/// The reference's candidate ranks.
pub const DEFAULT_RANKS: [usize; 3] = [1, 4, 8];

/// Names of the built-in spaces.
pub const PRESETS: [&str; 3] = ["s1", "s2", "lora"];

/// Self-attention and FFN linears (no cross-attention, as in the reference's S1).
const S1_LINEARS: &[Point] = &[
    Point::Query,
    Point::Key,
    Point::Value,
    Point::AttnOutput,
    Point::FfnIn,
    Point::FfnGate,
    Point::FfnOut,
];

/// S1: LoRA on self-attention q, k, v, o and the FFN linears; a low-rank
/// adapter after self-attention and after the FFN; BitFit on those linears and
/// beside every norm; LNFit beside every norm.
pub fn s1() -> SpaceDef {
    let norms = Kind::LnFit.points();
    let bitfit_points: Vec<Point> = S1_LINEARS.iter().chain(&norms).copied().collect();
    SpaceDef {
        name: "s1".into(),
        ranks: DEFAULT_RANKS.to_vec(),
        rules: vec![
            Rule::at(Kind::Lora, S1_LINEARS),
            Rule::at(Kind::Adapter, &[Point::AttnSublayer, Point::FfnSublayer]),
            Rule::at(Kind::BitFit, &bitfit_points),
            Rule::at(Kind::LnFit, &norms),
        ],
    }
}

/// S2: a serial and a parallel adapter at the FFN of every block, and a prefix
/// in every self-attention (encoder and decoder).
pub fn s2() -> SpaceDef {
    SpaceDef {
        name: "s2".into(),
        ranks: DEFAULT_RANKS.to_vec(),
        rules: vec![
            Rule::at(Kind::SerialAdapter, &[Point::FfnSublayer]),
            Rule::at(Kind::ParallelAdapter, &[Point::FfnSublayer]),
            Rule::at(Kind::Prefix, &[Point::Attention]),
        ],
    }
}

/// LoRA only, on every attention linear (cross-attention included) and every FFN linear.
pub fn lora() -> SpaceDef {
    SpaceDef {
        name: "lora".into(),
        ranks: DEFAULT_RANKS.to_vec(),
        rules: vec![Rule::at(Kind::Lora, &Kind::Lora.points())],
    }
}

/// A built-in space by name.
pub fn preset(name: &str) -> Result<SpaceDef> {
    match name {
        "s1" => Ok(s1()),
        "s2" => Ok(s2()),
        "lora" => Ok(lora()),
        other => Err(Error::InvalidInput(format!(
            "unknown search space \"{other}\" (built in: {}; or give a JSON file)",
            PRESETS.join(", ")
        ))),
    }
}

//! The kinds of PEFT module a slot can hold, and where each kind may sit.

use serde::{Deserialize, Serialize};

use crate::backbone::hooks::Point;

/// A kind of PEFT module (docs/algorithm.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// LoRA, parallel to a frozen linear; rank-searchable.
    #[serde(rename = "lora")]
    Lora,
    /// Low-rank adapter (S1), sequential and residual after a sub-layer; rank-searchable.
    #[serde(rename = "adapter")]
    Adapter,
    /// A bias added to a linear's or a norm's output; on/off.
    #[serde(rename = "bitfit")]
    BitFit,
    /// A scale times the normalised input, beside a norm; on/off.
    #[serde(rename = "lnfit")]
    LnFit,
    /// Serial bottleneck adapter (S2) after a sub-layer; its width is searched.
    #[serde(rename = "serial_adapter")]
    SerialAdapter,
    /// Parallel bottleneck adapter (S2) beside a sub-layer; its width is searched.
    #[serde(rename = "parallel_adapter")]
    ParallelAdapter,
    /// Prefix-tuning in self-attention (S2); its length is searched.
    #[serde(rename = "prefix")]
    Prefix,
}

const LINEARS: &[Point] = &[
    Point::Query,
    Point::Key,
    Point::Value,
    Point::AttnOutput,
    Point::CrossQuery,
    Point::CrossKey,
    Point::CrossValue,
    Point::CrossOutput,
    Point::FfnIn,
    Point::FfnGate,
    Point::FfnOut,
];

const NORMS: &[Point] = &[
    Point::AttnNorm,
    Point::CrossAttnNorm,
    Point::FfnNorm,
    Point::FinalNorm,
    Point::EmbeddingNorm,
];

const SUBLAYERS: &[Point] = &[
    Point::AttnSublayer,
    Point::CrossAttnSublayer,
    Point::FfnSublayer,
];

impl Kind {
    /// Every kind, in the order the slots of one site are listed.
    pub const ALL: [Kind; 7] = [
        Kind::Lora,
        Kind::BitFit,
        Kind::LnFit,
        Kind::Adapter,
        Kind::SerialAdapter,
        Kind::ParallelAdapter,
        Kind::Prefix,
    ];

    /// The name used in JSON files and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lora => "lora",
            Kind::Adapter => "adapter",
            Kind::BitFit => "bitfit",
            Kind::LnFit => "lnfit",
            Kind::SerialAdapter => "serial_adapter",
            Kind::ParallelAdapter => "parallel_adapter",
            Kind::Prefix => "prefix",
        }
    }

    /// Whether the search chooses a rank (width, length) for this kind, or only on/off.
    pub fn is_rank_searchable(self) -> bool {
        !matches!(self, Kind::BitFit | Kind::LnFit)
    }

    /// Hook points where a module of this kind can sit.
    pub fn points(self) -> Vec<Point> {
        match self {
            Kind::Lora => LINEARS.to_vec(),
            Kind::BitFit => LINEARS.iter().chain(NORMS).copied().collect(),
            Kind::LnFit => NORMS.to_vec(),
            Kind::Adapter | Kind::SerialAdapter | Kind::ParallelAdapter => SUBLAYERS.to_vec(),
            Kind::Prefix => vec![Point::Attention],
        }
    }

    /// Whether a module of this kind can sit at `point` (no allocation: the
    /// catalogue asks this for every site and kind).
    pub fn fits(self, point: Point) -> bool {
        match self {
            Kind::Lora => LINEARS.contains(&point),
            Kind::BitFit => LINEARS.contains(&point) || NORMS.contains(&point),
            Kind::LnFit => NORMS.contains(&point),
            Kind::Adapter | Kind::SerialAdapter | Kind::ParallelAdapter => {
                SUBLAYERS.contains(&point)
            }
            Kind::Prefix => point == Point::Attention,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_round_trip() {
        for kind in Kind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn fits_agrees_with_points() {
        for kind in Kind::ALL {
            let points = kind.points();
            for point in LINEARS
                .iter()
                .chain(NORMS)
                .chain(SUBLAYERS)
                .chain([&Point::Attention])
            {
                assert_eq!(
                    kind.fits(*point),
                    points.contains(point),
                    "{kind} at {point:?}"
                );
            }
        }
    }

    #[test]
    fn placement() {
        assert!(Kind::Lora.fits(Point::FfnOut));
        assert!(!Kind::Lora.fits(Point::FfnNorm));
        assert!(Kind::BitFit.fits(Point::FinalNorm) && Kind::BitFit.fits(Point::Query));
        assert!(Kind::Prefix.fits(Point::Attention) && !Kind::Prefix.fits(Point::AttnSublayer));
        assert!(!Kind::LnFit.is_rank_searchable() && Kind::Prefix.is_rank_searchable());
    }
}

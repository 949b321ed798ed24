//! A search space as data: rules that say which kinds of module may sit at
//! which sites, with which candidate ranks. A [`Catalogue`](super::Catalogue)
//! applies them to one backbone shape.

use serde::{Deserialize, Serialize};

use crate::backbone::hooks::Point;

use super::kind::Kind;

/// One rule: modules of `kind` at every site that fits the kind and matches
/// both filters (an empty filter matches everything).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub kind: Kind,
    /// Regular expressions over slot names, each matched against the whole
    /// name (`encoder\.block\.\d+\.layer\.0\.SelfAttention\.(q|v)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Hook points (names as in [`Point`], e.g. `"Query"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<Point>,
    /// Candidate ranks for a rank-searchable kind; empty means the space's
    /// `ranks`. On/off kinds take none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranks: Vec<usize>,
}

impl Rule {
    /// A rule that places `kind` at `points` of every block.
    pub fn at(kind: Kind, points: &[Point]) -> Self {
        Rule {
            kind,
            targets: Vec::new(),
            points: points.to_vec(),
            ranks: Vec::new(),
        }
    }
}

/// A named search space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceDef {
    pub name: String,
    /// Default candidate ranks of the rank-searchable rules.
    #[serde(default)]
    pub ranks: Vec<usize>,
    pub rules: Vec<Rule>,
}

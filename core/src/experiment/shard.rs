//! One shard of a plan's cells, for running a plan as a job array (a Slurm
//! array task per shard): shard `I/N` holds the cells whose key hashes to I
//! modulo N. The assignment depends only on the cell's key (model, task,
//! budget, method, seed), so shards never overlap, together cover the plan,
//! and a rerun — or a plan with cells added — keeps each cell in its shard.

use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

use super::cell::Cell;

/// Shard `index` of `count` (0-based: `0/3`, `1/3`, `2/3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::InvalidInput(format!(
                "shard {index}/{count}: give I/N with 0 <= I < N (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with --array=0-(N-1))"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether `cell` is one of this shard's.
    pub fn contains(&self, cell: &Cell) -> bool {
        shard_of(cell, self.count) == self.index
    }
}

/// The shard of `cell` among `count`: the first 8 bytes of SHA-256 of its
/// file name, modulo `count`.
pub fn shard_of(cell: &Cell, count: usize) -> usize {
    let digest = Sha256::digest(cell.file_stem().as_bytes());
    let head = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes"));
    (head % count.max(1) as u64) as usize
}

impl FromStr for Shard {
    type Err = Error;

    fn from_str(text: &str) -> Result<Shard> {
        let bad = || Error::InvalidInput(format!("shard `{text}`: give I/N, for example 0/3"));
        let (index, count) = text.trim().split_once('/').ok_or_else(bad)?;
        let index = index.trim().parse().map_err(|_| bad())?;
        let count = count.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::super::summary::tests::plan;
    use super::*;

    #[test]
    fn shards_split_the_plan_without_overlap_and_stay_put() {
        let cells = plan().cells();
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        for cell in &cells {
            let holders = shards.iter().filter(|s| s.contains(cell)).count();
            assert_eq!(holders, 1, "{}", cell.id());
        }
        // Each shard gets some of the 12 cells.
        for s in &shards {
            assert!(cells.iter().any(|c| s.contains(c)), "shard {s} is empty");
        }
        // The assignment is the key's, not the cell's place in the plan.
        let mut reversed = cells.clone();
        reversed.reverse();
        for (a, b) in cells.iter().zip(reversed.iter().rev()) {
            assert_eq!(shard_of(a, 3), shard_of(b, 3));
        }
        // One shard is the whole plan.
        assert!(cells.iter().all(|c| Shard::new(0, 1).unwrap().contains(c)));
    }

    #[test]
    fn parses_i_of_n() {
        assert_eq!("1/3".parse::<Shard>().unwrap(), Shard { index: 1, count: 3 });
        assert_eq!(" 0 / 2 ".parse::<Shard>().unwrap().to_string(), "0/2");
        for bad in ["3/3", "1/0", "x/2", "2", "-1/3"] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("shard"), "{bad}: {e}");
        }
    }
}

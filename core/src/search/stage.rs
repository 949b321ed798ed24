//! Which space an architecture step searches (docs/algorithm.md §4). BIPEFT flips
//! between the binary stage (on/off, ranks fixed to argmax β) and the dimension
//! stage (ranks, on/off fixed) after every architecture forward; the ablations
//! fix the order by epoch or drop the split altogether.

use super::config::SearchMode;

/// The space an architecture sample explores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    /// α is sampled; every rank-searchable slot runs at its argmax-β rank.
    Binary,
    /// β is sampled; on/off of rank-searchable slots is held fixed.
    Dimension,
    /// `no_iter`: one entangled space, β (with rank 0) sampled, no binary choice
    /// for rank-searchable slots.
    Entangled,
}

/// Decides the stage of each architecture step.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StageClock {
    mode: SearchMode,
    epochs: usize,
    /// The next iterative stage is the binary one (the reference starts there).
    binary_next: bool,
}

impl StageClock {
    pub fn new(mode: SearchMode, epochs: usize) -> Self {
        StageClock {
            mode,
            epochs,
            binary_next: true,
        }
    }

    /// The stage of the next architecture step at a 0-based `epoch`; call
    /// [`StageClock::advance`] after that step's forward.
    pub fn arch_stage(&self, epoch: usize) -> Stage {
        // The halves follow the reference: epochs 0..=E/2 are the first half.
        let first_half = epoch <= self.epochs / 2;
        match self.mode {
            SearchMode::Iterative if self.binary_next => Stage::Binary,
            SearchMode::Iterative => Stage::Dimension,
            SearchMode::NoIter => Stage::Entangled,
            SearchMode::BinaryThenDim if first_half => Stage::Binary,
            SearchMode::BinaryThenDim => Stage::Dimension,
            SearchMode::DimThenBinary if first_half => Stage::Dimension,
            SearchMode::DimThenBinary => Stage::Binary,
        }
    }

    /// The stage of a weight step: always the binary one (the entangled one for `no_iter`).
    pub fn weight_stage(&self) -> Stage {
        match self.mode {
            SearchMode::NoIter => Stage::Entangled,
            _ => Stage::Binary,
        }
    }

    /// Flips the iterative order after an architecture forward.
    pub fn advance(&mut self) {
        self.binary_next = !self.binary_next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterative_alternates_from_binary() {
        let mut clock = StageClock::new(SearchMode::Iterative, 10);
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(clock.arch_stage(3));
            clock.advance();
        }
        assert_eq!(
            seen,
            vec![
                Stage::Binary,
                Stage::Dimension,
                Stage::Binary,
                Stage::Dimension
            ]
        );
        assert_eq!(clock.weight_stage(), Stage::Binary);
    }

    #[test]
    fn ablations_split_the_epochs() {
        let mut clock = StageClock::new(SearchMode::BinaryThenDim, 10);
        clock.advance();
        assert_eq!(clock.arch_stage(0), Stage::Binary);
        assert_eq!(clock.arch_stage(5), Stage::Binary);
        assert_eq!(clock.arch_stage(6), Stage::Dimension);
        let clock = StageClock::new(SearchMode::DimThenBinary, 10);
        assert_eq!(clock.arch_stage(5), Stage::Dimension);
        assert_eq!(clock.arch_stage(9), Stage::Binary);
        let clock = StageClock::new(SearchMode::NoIter, 10);
        assert_eq!(clock.arch_stage(0), Stage::Entangled);
        assert_eq!(clock.weight_stage(), Stage::Entangled);
    }
}

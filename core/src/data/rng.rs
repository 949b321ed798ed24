//! A small seeded generator for splits and batch order. Its own code (SplitMix64,
//! Steele et al. 2014) so that a seed gives the same split natively and in the
//! browser, whatever `rand` version the dependency tree resolves to.

/// SplitMix64: 64 bits of state, passes BigCrush, plenty for shuffling rows.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

/// One SplitMix64 step on a bare state: advances it and returns 64 bits.
/// (Also the step of the search's Gumbel-noise generator, which keeps its
/// state as a bare `u64` in checkpoints.)
pub fn splitmix64_step(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// A generator for one purpose (`stream`) derived from `seed`, so that the
    /// dev split and the search split of one seed are not the same shuffle.
    pub fn for_stream(seed: u64, stream: &str) -> Self {
        let mut mixed = SplitMix64::new(seed);
        let mut state = mixed.next_u64();
        for byte in stream.bytes() {
            state = (state ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
        SplitMix64::new(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        splitmix64_step(&mut self.state)
    }

    /// Uniform in `0..bound` without modulo bias (Lemire's multiply-and-reject).
    /// `bound` must be positive.
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// `0..n` in a random order.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        self.shuffle(&mut order);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_outputs_match_the_published_reference() {
        // SplitMix64 seeded with 0: the first values of the reference C code.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn permutation_is_a_permutation_and_seeded() {
        let a = SplitMix64::new(42).permutation(1000);
        let b = SplitMix64::new(42).permutation(1000);
        let c = SplitMix64::new(43).permutation(1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn streams_differ() {
        let a = SplitMix64::for_stream(42, "dev").permutation(100);
        let b = SplitMix64::for_stream(42, "search").permutation(100);
        assert_ne!(a, b);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SplitMix64::new(7);
        let mut seen = [0usize; 5];
        for _ in 0..5000 {
            seen[rng.below(5) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }
}

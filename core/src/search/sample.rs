//! Architecture samples: what one forward pass of the supernet is gated by
//! (docs/algorithm.md §3–4).
//!
//! A sample holds, per slot, the weight of the slot's output (`gates`: the "on"
//! entry of its binary sample, 0 once pruned) and, per rank-searchable slot, a
//! weight per candidate rank (`rank_weights`). A slot's contribution is
//! `gate · Σ_r w_r · module_at_rank_r`, so the binary stage (α sampled, rank one-hot
//! at argmax β) and the dimension stage (β sampled, on/off held) are the same
//! formula for the supernet. Pruning acts through `gates` only.
//!
//! In the dimension stage the on/off of rank-searchable slots is held, as the
//! reference code holds it: with early selection on, its held binary sample is
//! OR-ed with the pruning mask, so **every live rank-searchable slot is on**
//! and every live slot's rank logits get a task gradient; without early
//! selection (there is no mask) it is the argmax of a hard Gumbel sample of α.

use burn::tensor::{backend::Backend, Tensor, TensorData};

use super::arch::ArchLogits;
use super::config::{Sampling, SearchMode};
use super::gumbel::{hard_gumbel_softmax, hard_gumbel_softmax_with_noise, one_hot_argmax, relaxed};
use super::slots::SearchSlots;
use super::stage::Stage;
use super::state::SelectionState;

/// The gates of one supernet forward.
#[derive(Clone, Debug)]
pub struct ArchSample<B: Backend> {
    /// Per slot, in slot order: how much of the slot's output is added.
    ///
    /// # Shapes
    /// `[slots]`
    pub gates: Tensor<B, 1>,
    /// Per rank-searchable slot (ranked rows, in slot order): the weight of each
    /// candidate rank.
    ///
    /// # Shapes
    /// `[ranked_slots, candidates]`
    pub rank_weights: Tensor<B, 2>,
}

/// How a sample is drawn.
#[derive(Clone, Copy, Debug)]
pub struct SampleSpec {
    pub stage: Stage,
    pub sampling: Sampling,
    /// Gumbel temperature (ignored by [`Sampling::Softmax`]).
    pub tau: f64,
    pub mode: SearchMode,
    /// Budget-guided early selection is on: in the dimension stage every live
    /// rank-searchable slot is on (the held sample OR the pruning mask).
    pub early_selection: bool,
}

/// Draws a sample from the logits under the selection state. Gradients reach
/// α through the binary sample of every slot whose on/off is searched in this
/// stage, and β through the rank sample of every unfixed rank-searchable slot
/// in the dimension and entangled stages.
pub fn draw<B: Backend>(
    arch: &ArchLogits<B>,
    slots: &SearchSlots,
    state: &SelectionState,
    spec: SampleSpec,
) -> ArchSample<B> {
    draw_with_noise(arch, slots, state, spec, None)
}

/// [`draw`] with given Gumbel noise for α and β (`[slots, 2]` and
/// `[ranked_slots, candidates]`), as the search draws it from its own
/// generator; `None` takes the backend's.
pub fn draw_with_noise<B: Backend>(
    arch: &ArchLogits<B>,
    slots: &SearchSlots,
    state: &SelectionState,
    spec: SampleSpec,
    noise: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
) -> ArchSample<B> {
    let alpha = arch.binary_logits.val();
    let beta = arch.rank_logits.val();
    let device = alpha.device();
    let (alpha_noise, beta_noise) = match noise {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    };
    let sample = |logits: Tensor<B, 2>, noise: Option<Tensor<B, 2>>| match (spec.sampling, noise) {
        (Sampling::Gumbel, Some(g)) => hard_gumbel_softmax_with_noise(logits, g, spec.tau),
        (Sampling::Gumbel, None) => hard_gumbel_softmax(logits, spec.tau),
        (Sampling::Softmax, _) => relaxed(logits),
    };
    let n = slots.len();
    let on_of = |pairs: Tensor<B, 2>| pairs.narrow(1, 1, 1).reshape([n]);

    let binary = sample(alpha.clone(), alpha_noise);
    let searched_on = on_of(binary.clone());
    let ranked = ranked_mask::<B>(slots, &device);
    let unranked = ranked.clone().neg().add_scalar(1.0);
    let gates = match spec.stage {
        Stage::Binary => searched_on,
        Stage::Dimension if !spec.early_selection => {
            // On/off of rank-searchable slots is held: argmax of a hard binary
            // sample (of α itself where there is no sample to take, as in the
            // binary-then-dimension ablation whose α is already searched).
            let held =
                if spec.mode == SearchMode::BinaryThenDim || spec.sampling == Sampling::Softmax {
                    on_of(one_hot_argmax(alpha.detach()))
                } else {
                    on_of(one_hot_argmax(binary.detach()))
                };
            searched_on.mul(unranked).add(held.mul(ranked))
        }
        // Every rank-searchable slot on: in the dimension stage with early
        // selection (the held sample OR the pruning mask; the live mask below
        // takes the pruned ones off), and in the entangled stage (no binary
        // choice for them).
        Stage::Dimension | Stage::Entangled => searched_on.mul(unranked).add(ranked),
    };
    let gates = gates.mul(host(state.live_mask(), [n], &device));

    let free_ranks = match spec.stage {
        Stage::Binary => one_hot_argmax(beta.detach()),
        Stage::Dimension | Stage::Entangled => sample(beta, beta_noise),
    };
    let rank_weights = hold_fixed_ranks(free_ranks, slots, state);
    ArchSample {
        gates,
        rank_weights,
    }
}

/// The most likely architecture under the current logits and decisions: on/off
/// by argmax α (and never for pruned slots), rank by the fixed choice or argmax
/// β. No gradients flow; for evaluation during the search.
pub fn argmax_sample<B: Backend>(
    arch: &ArchLogits<B>,
    slots: &SearchSlots,
    state: &SelectionState,
    mode: SearchMode,
) -> ArchSample<B> {
    let alpha = arch.binary_logits.val().detach();
    let device = alpha.device();
    let n = slots.len();
    let mut gates = one_hot_argmax(alpha).narrow(1, 1, 1).reshape([n]);
    if mode == SearchMode::NoIter {
        // Rank-searchable slots have no binary choice there: rank 0 is "off".
        let ranked = ranked_mask::<B>(slots, &device);
        gates = gates.mul(ranked.clone().neg().add_scalar(1.0)).add(ranked);
    }
    let gates = gates.mul(host(state.live_mask(), [n], &device));
    let rank_weights = hold_fixed_ranks(
        one_hot_argmax(arch.rank_logits.val().detach()),
        slots,
        state,
    );
    ArchSample {
        gates,
        rank_weights,
    }
}

/// A sample that encodes one discrete architecture: `on` per slot, and per
/// ranked row the chosen candidate index.
pub fn fixed_sample<B: Backend>(
    on: &[bool],
    rank_choice: &[usize],
    candidates: usize,
    device: &B::Device,
) -> ArchSample<B> {
    let gates = on.iter().map(|&o| if o { 1.0 } else { 0.0 }).collect();
    let mut weights = vec![0.0; rank_choice.len() * candidates];
    for (row, &c) in rank_choice.iter().enumerate() {
        weights[row * candidates + c] = 1.0;
    }
    ArchSample {
        gates: host(gates, [on.len()], device),
        rank_weights: host(weights, [rank_choice.len(), candidates], device),
    }
}

/// 1.0 for rank-searchable slots, 0.0 for on/off ones.
///
/// # Shapes
/// - returns `[slots]`
fn ranked_mask<B: Backend>(slots: &SearchSlots, device: &B::Device) -> Tensor<B, 1> {
    let mask = (0..slots.len())
        .map(|s| slots.ranked_row(s).map_or(0.0, |_| 1.0))
        .collect();
    host(mask, [slots.len()], device)
}

/// Replaces the rows of fixed ranks by their one-hot choice.
fn hold_fixed_ranks<B: Backend>(
    free: Tensor<B, 2>,
    slots: &SearchSlots,
    state: &SelectionState,
) -> Tensor<B, 2> {
    if state.fixed_rank.iter().all(Option::is_none) {
        return free;
    }
    let rows = slots.ranked_len();
    let k = slots.candidates();
    let mut keep = vec![1.0; rows];
    let mut fixed = vec![0.0; rows * k];
    for (row, choice) in state.fixed_rank.iter().enumerate() {
        if let Some(c) = choice {
            keep[row] = 0.0;
            fixed[row * k + c] = 1.0;
        }
    }
    let device = free.device();
    free.mul(host::<B, 2>(keep, [rows, 1], &device))
        .add(host(fixed, [rows, k], &device))
}

fn host<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::slots::SearchSlot;
    use burn::backend::{Autodiff, Flex};
    use burn::module::Param;

    type B = Autodiff<Flex<f32>>;

    fn slots() -> SearchSlots {
        SearchSlots::new(
            vec![1, 4, 8],
            vec![
                SearchSlot::ranked("a.lora", vec![2, 8, 16]),
                SearchSlot::on_off("a.bitfit", 3),
                SearchSlot::ranked("b.lora", vec![2, 8, 16]),
            ],
        )
        .unwrap()
    }

    /// α rows strongly "on" except slot 2 strongly "off"; β rows prefer 4 and 8.
    fn arch() -> ArchLogits<B> {
        let device = Default::default();
        let alpha = vec![-9.0f32, 9.0, -9.0, 9.0, 9.0, -9.0];
        let beta = vec![0.0f32, 9.0, 0.0, 0.0, 0.0, 9.0];
        ArchLogits {
            binary_logits: Param::from_tensor(host(alpha, [3, 2], &device)),
            rank_logits: Param::from_tensor(host(beta, [2, 3], &device)),
        }
    }

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data()
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(|v| (v * 1e4).round() / 1e4)
            .collect()
    }

    fn spec(stage: Stage, sampling: Sampling) -> SampleSpec {
        SampleSpec {
            stage,
            sampling,
            tau: 1.0,
            mode: SearchMode::Iterative,
            early_selection: false,
        }
    }

    #[test]
    fn binary_stage_samples_alpha_and_fixes_ranks_to_argmax() {
        let (arch, slots) = (arch(), slots());
        let state = SelectionState::new(&slots, 100);
        let s = draw(&arch, &slots, &state, spec(Stage::Binary, Sampling::Gumbel));
        assert_eq!(values(s.gates.clone()), vec![1.0, 1.0, 0.0]);
        assert_eq!(
            values(s.rank_weights.clone()),
            vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        );
        // α gets a gradient, β none (its one-hot is a constant).
        let grads = s.gates.sum().add(s.rank_weights.sum()).backward();
        let ga = arch.binary_logits.grad(&grads).unwrap();
        let ga = ga.into_data().to_vec::<f32>().unwrap();
        assert!(ga.iter().any(|&g| g != 0.0), "{ga:?}");
        assert!(arch.rank_logits.grad(&grads).is_none());
    }

    #[test]
    fn dimension_stage_holds_on_off_of_ranked_slots() {
        let (arch, slots) = (arch(), slots());
        let state = SelectionState::new(&slots, 100);
        let s = draw(
            &arch,
            &slots,
            &state,
            spec(Stage::Dimension, Sampling::Gumbel),
        );
        assert_eq!(values(s.gates.clone()), vec![1.0, 1.0, 0.0]);
        assert_eq!(
            values(s.rank_weights.clone()),
            vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        );
        let grads = s.gates.sum().add(s.rank_weights.sum()).backward();
        let ga = arch.binary_logits.grad(&grads).unwrap();
        let ga = ga.into_data().to_vec::<f32>().unwrap();
        // Only the on/off slot (row 1) is searched here.
        assert_eq!(ga[0], 0.0);
        assert_eq!(ga[4], 0.0);
        assert!(ga[2] != 0.0 || ga[3] != 0.0, "{ga:?}");
        assert!(arch.rank_logits.grad(&grads).is_some());
    }

    #[test]
    fn dimension_stage_with_early_selection_turns_every_live_slot_on() {
        // Slot 2 is strongly "off" in α: without early selection its held sample
        // keeps it off (test above); with it, the pruning mask (all live) is
        // OR-ed in, so it is on and its rank row gets a gradient.
        let (arch, slots) = (arch(), slots());
        let mut state = SelectionState::new(&slots, 100);
        let mut dimension = spec(Stage::Dimension, Sampling::Gumbel);
        dimension.early_selection = true;
        let s = draw(&arch, &slots, &state, dimension);
        assert_eq!(values(s.gates.clone()), vec![1.0, 1.0, 1.0]);
        // d/dβ of Σ_r w_r · (r + 1) · gate: every row has a gradient.
        let scale = host::<B, 2>(
            vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0],
            [2, 3],
            &Default::default(),
        );
        let objective = s
            .rank_weights
            .mul(scale)
            .sum_dim(1)
            .reshape([2])
            .mul(Tensor::cat(
                vec![
                    s.gates.clone().narrow(0, 0, 1),
                    s.gates.clone().narrow(0, 2, 1),
                ],
                0,
            ));
        let grads = objective.sum().backward();
        let gb = arch.rank_logits.grad(&grads).unwrap();
        let gb = gb.into_data().to_vec::<f32>().unwrap();
        assert!(gb[..3].iter().any(|&g| g != 0.0), "{gb:?}");
        assert!(gb[3..].iter().any(|&g| g != 0.0), "{gb:?}");
        // A pruned slot stays off.
        state.pruned[2] = true;
        let s = draw(&arch, &slots, &state, dimension);
        assert_eq!(values(s.gates), vec![1.0, 1.0, 0.0]);
    }

    #[test]
    fn pruned_slots_are_zero_and_fixed_ranks_one_hot() {
        let (arch, slots) = (arch(), slots());
        let mut state = SelectionState::new(&slots, 100);
        state.pruned[1] = true;
        state.fixed_rank[0] = Some(2);
        let s = draw(
            &arch,
            &slots,
            &state,
            spec(Stage::Dimension, Sampling::Softmax),
        );
        assert_eq!(values(s.gates), vec![1.0, 0.0, 0.0]);
        let w = values(s.rank_weights);
        assert_eq!(&w[..3], &[0.0, 0.0, 1.0]);
        // Row 1 is the plain softmax of [0, 0, 9].
        let e9 = 9f32.exp();
        assert!((w[5] - (e9 / (e9 + 2.0) * 1e4).round() / 1e4).abs() < 1e-6);
    }

    #[test]
    fn entangled_stage_keeps_ranked_slots_on() {
        let arch = arch();
        let slots = slots().with_zero_rank().unwrap();
        let arch = ArchLogits {
            binary_logits: arch.binary_logits,
            rank_logits: Param::from_tensor(host(
                vec![0.0f32, 0.0, 9.0, 0.0, 9.0, 0.0, 0.0, 0.0],
                [2, 4],
                &Default::default(),
            )),
        };
        let state = SelectionState::new(&slots, 100);
        let mut spec = spec(Stage::Entangled, Sampling::Softmax);
        spec.mode = SearchMode::NoIter;
        let s = draw(&arch, &slots, &state, spec);
        assert_eq!(values(s.gates), vec![1.0, 1.0, 1.0]);
        let a = argmax_sample(&arch, &slots, &state, SearchMode::NoIter);
        assert_eq!(values(a.gates), vec![1.0, 1.0, 1.0]);
        assert_eq!(
            values(a.rank_weights),
            vec![0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn fixed_sample_encodes_a_configuration() {
        let device = Default::default();
        let s = fixed_sample::<B>(&[true, false, true], &[0, 2], 3, &device);
        assert_eq!(values(s.gates), vec![1.0, 0.0, 1.0]);
        assert_eq!(values(s.rank_weights), vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    }
}

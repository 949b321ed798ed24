//! The whole search on a problem whose answer is known: four frozen linear
//! maps, each with a LoRA slot (ranks 1, 2, 4) and a BitFit slot. The targets
//! differ from the frozen maps by a rank-2 change at site 0, a rank-1 change at
//! site 1 and a constant offset at site 2; site 3 needs nothing. Within a
//! budget that fits exactly those three modules, the search must keep them and
//! stop early within the budget.

use bipeft_core::search::{
    module_saliency, ArchSample, BilevelSearch, DiscreteArchitecture, PruneScan, SearchConfig,
    SearchEvent, SearchModel, SearchSlot, SearchSlots, SelectionConfig, SlotSaliency,
};
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use futures_lite::future::block_on;

type Inner = Flex<f32>;
type B = Autodiff<Inner>;

const SITES: usize = 4;
const DIM: usize = 8;
const RANKS: [usize; 3] = [1, 2, 4];
const MAX_RANK: usize = 4;
const NOISE: f32 = 0.3;

/// A tiny deterministic generator (xorshift64*), so data do not depend on the
/// backend's RNG, which other tests share.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        (x as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

#[derive(Module, Debug)]
struct Toy<B: Backend> {
    /// `[sites, DIM, DIM]`, frozen.
    frozen: Param<Tensor<B, 3>>,
    lora_a: Vec<Param<Tensor<B, 2>>>,
    lora_b: Vec<Param<Tensor<B, 2>>>,
    bias: Vec<Param<Tensor<B, 1>>>,
}

/// `x`: `[batch, SITES, DIM]`, `y`: the same.
#[derive(Clone)]
struct Batch {
    x: Tensor<B, 3>,
    y: Tensor<B, 3>,
}

fn tensor<Bk: Backend, const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<Bk, D> {
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

impl Toy<B> {
    fn new(rng: &mut Rng, frozen: Vec<f32>) -> Self {
        let bound = 1.0 / (DIM as f32).sqrt();
        Toy {
            frozen: Param::from_tensor(tensor(frozen, [SITES, DIM, DIM])).set_require_grad(false),
            lora_a: (0..SITES)
                .map(|_| {
                    let a = rng
                        .vec(MAX_RANK * DIM)
                        .into_iter()
                        .map(|v| v * bound)
                        .collect();
                    Param::from_tensor(tensor(a, [MAX_RANK, DIM]))
                })
                .collect(),
            lora_b: (0..SITES)
                .map(|_| Param::from_tensor(Tensor::zeros([DIM, MAX_RANK], &Default::default())))
                .collect(),
            bias: (0..SITES)
                .map(|_| Param::from_tensor(Tensor::zeros([DIM], &Default::default())))
                .collect(),
        }
    }
}

impl SearchModel<B> for Toy<B> {
    type Batch = Batch;

    fn loss(&self, batch: &Batch, sample: &ArchSample<B>) -> Tensor<B, 1> {
        let [n, _, _] = batch.x.dims();
        // rank r keeps the first r of MAX_RANK components: component i is kept
        // with weight Σ_{r > i} w_r.
        let keep: Vec<f32> = RANKS
            .iter()
            .flat_map(|&r| (0..MAX_RANK).map(move |i| if i < r { 1.0 } else { 0.0 }))
            .collect();
        let keep = tensor::<B, 2>(keep, [RANKS.len(), MAX_RANK]);
        let component_weights = sample.rank_weights.clone().matmul(keep); // [SITES, MAX_RANK]
        let mut error = Vec::new();
        for site in 0..SITES {
            let x = batch.x.clone().narrow(1, site, 1).reshape([n, DIM]);
            let y = batch.y.clone().narrow(1, site, 1).reshape([n, DIM]);
            let w = self.frozen.val().narrow(0, site, 1).reshape([DIM, DIM]);
            let lora_gate = sample.gates.clone().narrow(0, site, 1).reshape([1, 1]);
            let bias_gate = sample
                .gates
                .clone()
                .narrow(0, SITES + site, 1)
                .reshape([1, 1]);
            let keep = component_weights.clone().narrow(0, site, 1); // [1, MAX_RANK]
            let down = x
                .clone()
                .matmul(self.lora_a[site].val().transpose())
                .mul(keep);
            let delta = down
                .matmul(self.lora_b[site].val().transpose())
                .mul(lora_gate);
            let bias = self.bias[site].val().reshape([1, DIM]).mul(bias_gate);
            let out = x.matmul(w.transpose()).add(delta).add(bias);
            error.push(out.sub(y).powi_scalar(2).mean().reshape([1]));
        }
        Tensor::cat(error, 0).sum()
    }

    fn saliency(&self, grads: &GradientsParams) -> Vec<SlotSaliency<Inner>> {
        let mut out: Vec<SlotSaliency<Inner>> = (0..SITES)
            .map(|s| {
                let mut parts = module_saliency(&self.lora_a[s], grads);
                parts.extend(module_saliency(&self.lora_b[s], grads));
                parts
            })
            .collect();
        out.extend(self.bias.iter().map(|b| module_saliency(b, grads)));
        out
    }
}

fn slots() -> SearchSlots {
    let mut list: Vec<SearchSlot> = (0..SITES)
        .map(|s| {
            SearchSlot::ranked(
                format!("site{s}.lora"),
                RANKS.iter().map(|&r| (r * 2 * DIM) as u64).collect(),
            )
        })
        .collect();
    list.extend((0..SITES).map(|s| SearchSlot::on_off(format!("site{s}.bitfit"), DIM as u64)));
    SearchSlots::new(RANKS.to_vec(), list).unwrap()
}

/// Targets: frozen map plus a rank-2 change (site 0), a rank-1 change (site 1),
/// an offset (site 2).
fn problem(rng: &mut Rng, batches: usize, batch: usize) -> (Vec<f32>, Vec<Batch>) {
    let frozen = rng
        .vec(SITES * DIM * DIM)
        .into_iter()
        .map(|v| v * 0.3)
        .collect::<Vec<_>>();
    let u = rng.vec(DIM * 2);
    let v = rng.vec(DIM * 2);
    let offset = rng.vec(DIM);
    let mut target = frozen.clone();
    let mut offsets = [0.0; SITES * DIM];
    for i in 0..DIM {
        for j in 0..DIM {
            target[i * DIM + j] += 1.5 * (u[i] * v[j] + u[DIM + i] * v[DIM + j]);
            target[DIM * DIM + i * DIM + j] += 1.5 * u[i] * v[DIM + j];
        }
        offsets[2 * DIM + i] = 1.5 * offset[i];
    }
    let data = (0..batches)
        .map(|_| {
            let x = rng.vec(batch * SITES * DIM);
            let mut y = vec![0.0; x.len()];
            for b in 0..batch {
                for s in 0..SITES {
                    for i in 0..DIM {
                        // Label noise keeps gradients alive once a module
                        // fits, as minibatches of real data do.
                        let mut acc = offsets[s * DIM + i] + NOISE * rng.next();
                        for j in 0..DIM {
                            acc +=
                                target[s * DIM * DIM + i * DIM + j] * x[(b * SITES + s) * DIM + j];
                        }
                        y[(b * SITES + s) * DIM + i] = acc;
                    }
                }
            }
            Batch {
                x: tensor(x, [batch, SITES, DIM]),
                y: tensor(y, [batch, SITES, DIM]),
            }
        })
        .collect();
    (frozen, data)
}

/// One search of the toy with the backend seeded by `seed` (architecture
/// initialisation and Gumbel noise; the data are fixed).
fn search(seed: u64, scan: PruneScan) -> (DiscreteArchitecture, bool, f64, f64) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (frozen, batches) = problem(&mut rng, 40, 16);
    let (weight_half, arch_half) = batches.split_at(20);
    let model = Toy::new(&mut rng, frozen);
    let config = SearchConfig::new(BUDGET)
        .with_epochs(12)
        .with_weight_lr(0.02)
        .with_arch_lr(0.05)
        .with_selection(Some(
            SelectionConfig::new()
                .with_prune_begin_epoch(2)
                .with_max_prune_steps(6)
                .with_prune_scan(scan),
        ))
        .with_seed(seed);
    <B as Backend>::seed(&Default::default(), seed);
    let mut search = BilevelSearch::new(
        model,
        slots(),
        config,
        weight_half.len(),
        &Default::default(),
    )
    .unwrap();
    let reports = block_on(search.run(|_| weight_half.to_vec(), arch_half)).unwrap();
    let selections = search
        .events()
        .iter()
        .filter(|e| matches!(e, SearchEvent::Selection { .. }))
        .count();
    assert_eq!(selections, 6, "seed {seed}: every selection step is taken");
    let first = reports.first().unwrap().weight_loss;
    let last = reports.last().unwrap().weight_loss;
    (
        block_on(search.architecture()).unwrap(),
        search.stopped_early(),
        first,
        last,
    )
}

/// LoRA at its largest rank at sites 0 and 1 (64 each) and the bias at site 2
/// (8): binding, as the supernet holds 288 and starts near E = 181.
const BUDGET: u64 = 136;

#[test]
fn search_finds_the_modules_that_matter_within_budget() {
    // One test runs every seed in turn: the backend's generator is global, so
    // concurrent tests would interleave their draws. Not every seed finds the
    // ideal set on a problem this small: seed 7 keeps site2.lora instead of
    // site0.lora, because fixing ranks at their argmax raises E just before
    // the last step, which must then close the whole gap at once.
    let runs = (1..=5)
        .map(|seed| (seed, PruneScan::SkipMisfits))
        .chain((1..=3).map(|seed| (seed, PruneScan::StopAtMisfit)));
    for (seed, scan) in runs {
        let (arch, stopped, first, last) = search(seed, scan);
        let chosen: Vec<&str> = arch.modules.iter().map(|m| m.name.as_str()).collect();
        eprintln!(
            "seed {seed} {scan:?}: loss {first:.3} → {last:.3}, chosen {chosen:?}, {} params",
            arch.trainable_params
        );
        assert!(
            stopped,
            "seed {seed}: the search should spend its selection steps"
        );
        assert!(arch.trainable_params <= BUDGET, "seed {seed}: {arch:?}");
        assert!(arch.trimmed.is_empty(), "seed {seed}: {arch:?}");
        // The modules that matter are kept, and no LoRA where none is needed;
        // with the dimension stage searching every live module's rank (as the
        // reference does), the LoRAs may end at a smaller rank than the
        // largest, and the biases that then still fit are kept too.
        for needed in ["site0.lora", "site1.lora", "site2.bitfit"] {
            assert!(chosen.contains(&needed), "seed {seed} {scan:?}: {chosen:?}");
        }
        for useless in ["site2.lora", "site3.lora"] {
            assert!(!chosen.contains(&useless), "seed {seed} {scan:?}: {chosen:?}");
        }
        assert!(last < 0.5 * first, "seed {seed}: loss {first} → {last}");
    }
}

/// The toy search driven step by step from iteration `from` (epoch, batch)
/// for at most `count` iterations (all when `None`); returns where it stopped.
fn drive(
    search: &mut BilevelSearch<B, Toy<B>>,
    weight_half: &[Batch],
    arch_half: &[Batch],
    epochs: usize,
    from: (usize, usize),
    count: Option<usize>,
) -> (usize, usize) {
    let mut done = 0;
    for epoch in from.0..epochs {
        let start = if epoch == from.0 { from.1 } else { 0 };
        for i in start..weight_half.len() {
            if search.stopped_early() || count.is_some_and(|c| done == c) {
                return (epoch, i);
            }
            block_on(search.step(&arch_half[i % arch_half.len()], &weight_half[i], epoch)).unwrap();
            done += 1;
        }
    }
    (epochs, 0)
}

fn toy_search(seed: u64) -> (BilevelSearch<B, Toy<B>>, Vec<Batch>, Vec<Batch>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (frozen, batches) = problem(&mut rng, 40, 16);
    let (weight_half, arch_half) = batches.split_at(20);
    let model = Toy::new(&mut rng, frozen);
    let config = SearchConfig::new(BUDGET)
        .with_epochs(12)
        .with_weight_lr(0.02)
        .with_arch_lr(0.05)
        .with_selection(Some(
            SelectionConfig::new()
                .with_prune_begin_epoch(2)
                .with_max_prune_steps(6),
        ))
        .with_seed(seed);
    <B as Backend>::seed(&Default::default(), seed);
    let search = BilevelSearch::new(
        model,
        slots(),
        config,
        weight_half.len(),
        &Default::default(),
    )
    .unwrap();
    (search, weight_half.to_vec(), arch_half.to_vec())
}

#[test]
fn a_resumed_search_ends_where_the_uninterrupted_one_does() {
    // Both runs start from one state: the backend's generator (the logits'
    // initial values) is shared with the concurrent test.
    let (mut whole, weight_half, arch_half) = toy_search(3);
    let start = block_on(whole.checkpoint()).unwrap();
    drive(&mut whole, &weight_half, &arch_half, 12, (0, 0), None);
    let expected = block_on(whole.architecture()).unwrap();
    assert!(whole.stopped_early());

    // Interrupted mid-epoch, after the selection started (epoch 2 of 20 batches).
    let (fresh, _, _) = toy_search(3);
    let config = fresh.config().clone();
    let (model, _, _) = block_on(fresh.finish()).unwrap();
    let mut first =
        BilevelSearch::resume(model, slots(), config, &start, &Default::default()).unwrap();
    let at = drive(&mut first, &weight_half, &arch_half, 12, (0, 0), Some(47));
    assert_eq!(at, (2, 7));
    let mut checkpoint = block_on(first.checkpoint()).unwrap();
    checkpoint.driver = vec![at.0 as u8, at.1 as u8];
    let bytes = checkpoint.to_bytes().unwrap();
    drop(first);

    // A fresh process: the model and logits are rebuilt at their initial
    // values, with new parameter ids, until the checkpoint puts them back.
    let (fresh, _, _) = toy_search(99);
    let config = fresh.config().clone();
    let (model, _, _) = block_on(fresh.finish()).unwrap();
    let restored = bipeft_core::search::SearchCheckpoint::from_bytes(&bytes).unwrap();
    assert_eq!(restored.driver, vec![2, 7]);
    let config = config.with_seed(3);
    let mut resumed =
        BilevelSearch::resume(model, slots(), config, &restored, &Default::default()).unwrap();
    drive(&mut resumed, &weight_half, &arch_half, 12, at, None);
    assert!(resumed.stopped_early());
    assert_eq!(block_on(resumed.architecture()).unwrap(), expected);
    assert_eq!(resumed.events(), whole.events());

    // Another configuration or damaged bytes are refused, clearly.
    let (other, _, _) = toy_search(3);
    let (model, _, _) = block_on(other.finish()).unwrap();
    let wrong = SearchConfig::new(BUDGET + 1);
    let error = BilevelSearch::resume(model, slots(), wrong, &restored, &Default::default())
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("another search configuration"),
        "{error}"
    );
    let error = bipeft_core::search::SearchCheckpoint::from_bytes(&bytes[..bytes.len() / 2])
        .err()
        .unwrap();
    assert!(error.to_string().contains("checkpoint"), "{error}");
}

#[test]
fn a_search_whose_loss_stays_nan_stops_with_an_error() {
    let (mut search, weight_half, arch_half) = toy_search(5);
    let poisoned = |b: &Batch| Batch {
        x: b.x.clone(),
        y: b.y.clone().mul_scalar(f32::NAN),
    };
    // One bad batch is skipped, and a good one clears the count.
    let outcome = block_on(search.step(&poisoned(&arch_half[0]), &weight_half[0], 0)).unwrap();
    assert_eq!(outcome.arch_loss, None);
    assert!(outcome.weight_loss.is_some());
    // Then every loss is NaN: each step skips two batches, and the tenth in a
    // row stops the search.
    for i in 0..4 {
        let outcome =
            block_on(search.step(&poisoned(&arch_half[i]), &poisoned(&weight_half[i]), 0)).unwrap();
        assert_eq!((outcome.arch_loss, outcome.weight_loss), (None, None));
    }
    let error = block_on(search.step(&poisoned(&arch_half[4]), &poisoned(&weight_half[4]), 0))
        .err()
        .expect("the tenth skipped batch in a row is an error");
    assert!(
        error.to_string().contains("not a finite number for 10 batches in a row"),
        "{error}"
    );
}

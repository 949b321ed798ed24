//! The supernet on real backbones: the real all-MiniLM-L6-v2 (BERT) and the
//! small T5 fixtures `relu-tied` (original T5) and `gated-gelu-untied` (T5 v1.1).
//!
//! - Fresh, with every gate on, the supernet of `s1`, `s2` and `lora` computes
//!   the bare backbone (encoder states, decoder logits) to 1e-6, and so
//!   transformers' outputs to 1e-4 (`tests/fixtures/peft_lora/outputs.safetensors`
//!   for MiniLM, `tests/fixtures/t5/*/reference.json` for T5). Every slot's site
//!   is reached by the forward pass, and with non-zero PEFT weights the output
//!   does change, so the equality is not that of a supernet left out.
//! - Under `Autodiff<Flex<f32>>`, with the backbone frozen by `no_grad()`,
//!   gradients reach every slot's "on" gate and every rank weight, and no
//!   backbone parameter requires or receives a gradient; the same backbone
//!   left trainable does receive them. On MiniLM the gradients agree with
//!   central differences of the loss (LoRA's with half of it, by design).
//! - Under hard gates the supernet computes its discretised model exactly,
//!   through MiniLM's whole forward pass.
//!
//! MiniLM is read as `minilm.rs` reads it (`$BIPEFT_MINILM_DIR`, else
//! `~/.cache/bipeft/all-MiniLM-L6-v2`); without it these tests fail and say how to get it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;

use bipeft_core::backbone::bert::{detect_prefix, BertConfig, BertModel};
use bipeft_core::backbone::t5::{seq2seq_loss, T5Config, T5Model};
use bipeft_core::backbone::{BackboneConfig, Hooks, NoHooks, Point, Site};
use bipeft_core::loader::{ModelFiles, Weights};
use bipeft_core::peft::{LoraScaling, PeftOptions};
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::space::{presets, Catalogue, Kind, Slot, SpaceDef};
use bipeft_core::supernet::{Gates, Supernet};
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{activation, Distribution, Int, Tensor, TensorData};
use serde_json::Value;

type B = Flex<f32>;
type AB = Autodiff<Flex<f32>>;

/// Supernet with every gate on vs the bare backbone.
const SAME: f32 = 1e-6;
/// Against transformers.
const TOLERANCE: f32 = 1e-4;

const T5_FIXTURES: [&str; 2] = ["relu-tied", "gated-gelu-untied"];

fn spaces() -> Vec<SpaceDef> {
    ["s1", "s2", "lora"]
        .iter()
        .map(|name| SpaceDef::resolve(name).unwrap())
        .collect()
}

/// S1 and S2 together: every kind of module at once.
fn all_kinds() -> SpaceDef {
    let mut space = presets::s1();
    space.name = "s1+s2".into();
    space.rules.extend(presets::s2().rules);
    space
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn floats<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

fn max_abs_diff(found: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(found.len(), expected.len(), "lengths differ");
    found
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Passes every call on to `inner` and notes the sites it was called at.
struct Recording<'a, H> {
    inner: &'a H,
    sites: RefCell<BTreeSet<Site>>,
}

impl<'a, H> Recording<'a, H> {
    fn new(inner: &'a H) -> Self {
        Recording {
            inner,
            sites: RefCell::new(BTreeSet::new()),
        }
    }

    /// Every slot of `catalogue` sits at a site the backbone called.
    fn assert_reached(&self, catalogue: &Catalogue, what: &str) {
        let sites = self.sites.borrow();
        for slot in catalogue.slots() {
            assert!(
                sites.contains(&slot.site),
                "{what}: {} slot `{}` sits at {:?}, which the forward pass never reached",
                slot.kind,
                slot.name,
                slot.site
            );
        }
    }
}

impl<Bk: Backend, H: Hooks<Bk>> Hooks<Bk> for Recording<'_, H> {
    fn linear(&self, site: Site, input: &Tensor<Bk, 3>, output: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        self.sites.borrow_mut().insert(site);
        self.inner.linear(site, input, output)
    }

    fn norm(&self, site: Site, normalized: &Tensor<Bk, 3>, output: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        self.sites.borrow_mut().insert(site);
        self.inner.norm(site, normalized, output)
    }

    fn sublayer(&self, site: Site, input: &Tensor<Bk, 3>, output: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        self.sites.borrow_mut().insert(site);
        self.inner.sublayer(site, input, output)
    }

    fn attention(
        &self,
        site: Site,
        query: &Tensor<Bk, 4>,
        context: Tensor<Bk, 4>,
    ) -> Tensor<Bk, 4> {
        self.sites.borrow_mut().insert(site);
        self.inner.attention(site, query, context)
    }
}

/// Replaces every PEFT parameter by uniform noise in `±scale` (trainable), so
/// that no module is the identity: what a supernet looks like after training.
struct Randomize(f64);

impl<Bk: Backend> ModuleMapper<Bk> for Randomize {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<Bk, D>>) -> Param<Tensor<Bk, D>> {
        let scale = self.0;
        param.map(|t| {
            Tensor::random(t.shape(), Distribution::Uniform(-scale, scale), &t.device())
                .require_grad()
        })
    }
}

/// Counts a module's float parameters, those that require a gradient, and
/// those that got one from `grads`.
struct GradCount<'a> {
    grads: &'a <AB as AutodiffBackend>::Gradients,
    total: usize,
    require_grad: usize,
    with_grad: usize,
}

impl<'a> GradCount<'a> {
    fn of<M: Module<AB>>(module: &M, grads: &'a <AB as AutodiffBackend>::Gradients) -> Self {
        let mut count = GradCount {
            grads,
            total: 0,
            require_grad: 0,
            with_grad: 0,
        };
        module.visit(&mut count);
        count
    }
}

impl ModuleVisitor<AB> for GradCount<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        self.total += 1;
        self.require_grad += usize::from(param.val().is_require_grad());
        self.with_grad += usize::from(param.grad(self.grads).is_some());
    }
}

/// Soft architecture tensors that are leaves requiring a gradient, as the
/// search builds them from its logits: "on" in (0.2, 0.9) per slot, rank
/// weights a softmax of random logits per rank-searchable slot.
fn soft_gates(catalogue: &Catalogue) -> (Tensor<AB, 1>, Tensor<AB, 2>) {
    let dev = Default::default();
    let on = Tensor::<B, 1>::random(
        [catalogue.slots().len()],
        Distribution::Uniform(0.2, 0.9),
        &dev,
    );
    let logits = Tensor::<B, 2>::random(
        [catalogue.rank_slots().len(), catalogue.num_candidates()],
        Distribution::Uniform(-1.0, 1.0),
        &dev,
    );
    let weights = activation::softmax(logits, 1);
    (
        Tensor::<AB, 1>::from_data(on.into_data(), &dev).require_grad(),
        Tensor::<AB, 2>::from_data(weights.into_data(), &dev).require_grad(),
    )
}

/// A bias on attention keys cannot change anything: it adds `q·b` to every
/// score of a query, which the softmax removes. So BitFit on a key linear has
/// an "on" gradient of zero up to rounding, whatever its weights.
fn is_key_bias(slot: &Slot) -> bool {
    slot.kind == Kind::BitFit && matches!(slot.site.point, Point::Key | Point::CrossKey)
}

/// Every slot's "on" and every rank weight got a finite, non-zero gradient
/// (key biases: a vanishing one). Returns the smallest of each.
fn assert_architecture_gradients(
    catalogue: &Catalogue,
    on: &Tensor<AB, 1>,
    weights: &Tensor<AB, 2>,
    grads: &<AB as AutodiffBackend>::Gradients,
    what: &str,
) -> (f32, f32) {
    let g_on = floats(on.grad(grads).expect("no gradient for `on`"));
    let largest = g_on.iter().map(|g| g.abs()).fold(0.0, f32::max);
    let mut smallest_on = f32::INFINITY;
    for (slot, g) in catalogue.slots().iter().zip(&g_on) {
        if is_key_bias(slot) {
            assert!(
                g.abs() <= 1e-5 * largest,
                "{what}: a bias on the keys `{}` changes the output (gradient {g}, largest {largest})",
                slot.name
            );
            continue;
        }
        assert!(
            g.is_finite() && *g != 0.0,
            "{what}: gradient {g} to `on` of {} `{}`",
            slot.kind,
            slot.name
        );
        smallest_on = smallest_on.min(g.abs());
    }
    let g_rank = floats(
        weights
            .grad(grads)
            .expect("no gradient for the rank weights"),
    );
    let k = catalogue.num_candidates();
    for (row, &slot) in catalogue.rank_slots().iter().enumerate() {
        let s = &catalogue.slots()[slot];
        let row_g = &g_rank[row * k..(row + 1) * k];
        assert!(
            row_g.iter().all(|g| g.is_finite() && *g != 0.0),
            "{what}: rank-weight gradients of {} `{}`: {row_g:?}",
            s.kind,
            s.name
        );
    }
    let smallest_rank = g_rank.iter().map(|g| g.abs()).fold(f32::INFINITY, f32::min);
    (smallest_on, smallest_rank)
}

// ---------------------------------------------------------------- MiniLM ---

struct MiniLm<Bk: Backend> {
    model: BertModel<Bk>,
    backbone: BackboneConfig,
    prefix: String,
}

impl<Bk: Backend> MiniLm<Bk> {
    fn load() -> Self {
        let files = ModelFiles::from_dir(&bipeft_tests::minilm_dir()).unwrap();
        let config = BertConfig::from_json(&files.config_json).unwrap();
        MiniLm {
            model: BertModel::from_weights(&config, &files.weights, &Default::default()).unwrap(),
            backbone: BackboneConfig::from_json(&files.config_json).unwrap(),
            prefix: detect_prefix(&files.weights).unwrap(),
        }
    }

    fn catalogue(&self, space: &SpaceDef) -> Catalogue {
        Catalogue::build(
            &self.backbone.shape(),
            space,
            &PeftOptions::default(),
            self.backbone.site_namer(&self.prefix),
        )
        .unwrap()
    }
}

/// The padded batch of three sentences of `tests/fixtures/peft_lora`, and
/// transformers' last hidden state of the bare model for it.
struct MiniLmBatch<Bk: Backend> {
    ids: Tensor<Bk, 2, Int>,
    types: Tensor<Bk, 2, Int>,
    mask: Tensor<Bk, 2, Int>,
    transformers: Vec<f32>,
}

impl<Bk: Backend> MiniLmBatch<Bk> {
    fn load() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/peft_lora");
        let reference = read_json(&dir.join("reference.json"));
        let tensor = |key: &str| {
            let rows: Vec<Vec<i64>> = serde_json::from_value(reference[key].clone()).unwrap();
            let shape = [rows.len(), rows[0].len()];
            Tensor::<Bk, 2, Int>::from_data(
                TensorData::new(rows.into_iter().flatten().collect(), shape),
                &Default::default(),
            )
        };
        let ids = tensor("input_ids");
        let [batch, seq] = ids.dims();
        let path = dir.join("outputs.safetensors");
        let outputs = Weights::from_bytes(vec![(
            path.display().to_string(),
            std::fs::read(&path).unwrap(),
        )])
        .unwrap();
        MiniLmBatch {
            ids,
            types: tensor("token_type_ids"),
            mask: tensor("attention_mask"),
            transformers: outputs
                .data("base", &[batch, seq, 384])
                .unwrap()
                .to_vec()
                .unwrap(),
        }
    }

    fn hidden<H: Hooks<Bk>>(&self, model: &BertModel<Bk>, hooks: &H) -> Tensor<Bk, 3> {
        model.forward(
            self.ids.clone(),
            self.types.clone(),
            self.mask.clone(),
            hooks,
        )
    }
}

#[test]
fn fresh_supernet_with_every_gate_on_is_the_bare_minilm() {
    B::seed(&Default::default(), 11);
    let minilm = MiniLm::<B>::load();
    let batch = MiniLmBatch::<B>::load();
    let bare = floats(batch.hidden(&minilm.model, &NoHooks));
    let bare_vs_hf = max_abs_diff(&bare, &batch.transformers);
    assert!(
        bare_vs_hf <= TOLERANCE,
        "bare MiniLM vs transformers: {bare_vs_hf}"
    );

    for space in spaces() {
        let catalogue = minilm.catalogue(&space);
        let supernet = Supernet::<B>::new(&catalogue, &Default::default()).unwrap();
        let gates = Gates::all_on(&catalogue, &Default::default());
        let hooks = supernet.hooks(&gates).unwrap();
        let recording = Recording::new(&hooks);
        let found = floats(batch.hidden(&minilm.model, &recording));
        let what = format!("MiniLM, space {}", space.name);
        recording.assert_reached(&catalogue, &what);
        let vs_bare = max_abs_diff(&found, &bare);
        let vs_hf = max_abs_diff(&found, &batch.transformers);

        // Wired in: the same supernet with non-zero weights changes the output.
        let trained = supernet.map(&mut Randomize(0.1));
        let moved = max_abs_diff(
            &floats(batch.hidden(&minilm.model, &trained.hooks(&gates).unwrap())),
            &bare,
        );
        println!(
            "{what} ({} slots, {} parameters): max |hidden - bare| = {vs_bare:.3e}, \
             max |hidden - transformers| = {vs_hf:.3e}; with random PEFT weights it moves by {moved:.3}",
            catalogue.slots().len(),
            catalogue.max_params()
        );
        assert!(vs_bare <= SAME, "{what}: {vs_bare}");
        assert!(vs_hf <= TOLERANCE, "{what}: {vs_hf}");
        assert!(
            moved > 1e-2,
            "{what}: random PEFT weights change nothing ({moved})"
        );
    }
}

#[test]
fn architecture_gradients_on_minilm_and_none_for_the_frozen_backbone() {
    AB::seed(&Default::default(), 12);
    let minilm = MiniLm::<AB>::load();
    let batch = MiniLmBatch::<AB>::load();
    let catalogue = minilm.catalogue(&all_kinds());
    assert_eq!(catalogue.kinds().len(), 7, "{:?}", catalogue.kinds());
    let supernet = Supernet::<AB>::new(&catalogue, &Default::default())
        .unwrap()
        .map(&mut Randomize(0.05));
    let (on, weights) = soft_gates(&catalogue);
    let gates = Gates::new(on.clone(), Some(weights.clone()));

    let frozen = minilm.model.clone().no_grad();
    let trainable = minilm.model;
    let loss_at = |model: &BertModel<AB>, gates: &Gates<AB>| {
        let hooks = supernet.hooks(gates).unwrap();
        let hidden = batch.hidden(model, &hooks);
        let mask = batch.mask.clone().float().unsqueeze_dim::<3>(2);
        (hidden * mask).powi_scalar(2).mean()
    };
    let loss = |model: &BertModel<AB>| loss_at(model, &gates);

    let grads = loss(&frozen).backward();
    let backbone = GradCount::of(&frozen, &grads);
    let peft = GradCount::of(&supernet, &grads);
    let (min_on, min_rank) =
        assert_architecture_gradients(&catalogue, &on, &weights, &grads, "MiniLM");
    println!(
        "MiniLM, {} slots: smallest |d loss / d on| (key biases aside) = {min_on:.3e}, |d loss / d rank weight| = {min_rank:.3e}; \
         backbone: {} tensors, {} require grad, {} got one; PEFT: {} of {} tensors got one",
        catalogue.slots().len(),
        backbone.total,
        backbone.require_grad,
        backbone.with_grad,
        peft.with_grad,
        peft.total
    );
    // Embeddings (3), their LayerNorm (2), and 16 tensors in each of 6 blocks.
    assert_eq!(backbone.total, 5 + 6 * 16);
    assert_eq!(
        backbone.require_grad, 0,
        "frozen backbone parameters still require grad"
    );
    assert_eq!(
        backbone.with_grad, 0,
        "frozen backbone parameters got gradients"
    );
    assert_eq!(
        peft.with_grad, peft.total,
        "some PEFT parameters got no gradient"
    );

    // The values against central differences of the loss. On/off kinds and
    // the prefix get the loss's true derivative. LoRA gets exactly half of it:
    // its delta is x·A·diag(a ⊙ b)·B with unit weights `a` and `b` both linear
    // in the gates, and by design only `a` carries the gradient (`b` is the
    // detached sample; with unit scaling a = b).
    let (on_values, weight_values) = (floats(on.clone()), floats(weights.clone()));
    let (g_on, g_weights) = (
        floats(on.grad(&grads).unwrap()),
        floats(weights.grad(&grads).unwrap()),
    );
    let [slots, rows, k] = [
        catalogue.slots().len(),
        catalogue.rank_slots().len(),
        catalogue.num_candidates(),
    ];
    let central = |entry: usize, in_on: bool| -> f64 {
        let eps = 1e-2f32;
        let at = |delta: f32| {
            let (mut on_v, mut w_v) = (on_values.clone(), weight_values.clone());
            if in_on {
                on_v[entry] += delta;
            } else {
                w_v[entry] += delta;
            }
            let dev = Default::default();
            let gates = Gates::new(
                Tensor::from_data(TensorData::new(on_v, [slots]), &dev),
                Some(Tensor::from_data(TensorData::new(w_v, [rows, k]), &dev)),
            );
            loss_at(&frozen, &gates).into_scalar() as f64
        };
        (at(eps) - at(-eps)) / (2.0 * eps as f64)
    };
    let strongest = |kind: Kind| {
        (0..slots)
            .filter(|&i| catalogue.slots()[i].kind == kind)
            .max_by(|&i, &j| g_on[i].abs().total_cmp(&g_on[j].abs()))
            .unwrap()
    };
    let mut checks: Vec<(String, f64, f64)> = [Kind::BitFit, Kind::LnFit, Kind::Prefix, Kind::Lora]
        .into_iter()
        .map(|kind| {
            let i = strongest(kind);
            let share = if kind == Kind::Lora { 0.5 } else { 1.0 };
            (
                format!("on of {kind} `{}`", catalogue.slots()[i].name),
                g_on[i] as f64,
                share * central(i, true),
            )
        })
        .collect();
    let lora_rows: Vec<usize> = catalogue
        .rank_slots()
        .iter()
        .enumerate()
        .filter(|(_, &slot)| catalogue.slots()[slot].kind == Kind::Lora)
        .map(|(row, _)| row)
        .collect();
    let entry = lora_rows
        .iter()
        .flat_map(|&row| row * k..(row + 1) * k)
        .max_by(|&i, &j| g_weights[i].abs().total_cmp(&g_weights[j].abs()))
        .unwrap();
    checks.push((
        format!(
            "rank weight {} of lora `{}`",
            entry % k,
            catalogue.slots()[catalogue.rank_slots()[entry / k]].name
        ),
        g_weights[entry] as f64,
        0.5 * central(entry, false),
    ));
    for (what, autodiff, numeric) in checks {
        let error = (autodiff - numeric).abs() / numeric.abs();
        println!("MiniLM {what}: autodiff {autodiff:.5e}, central difference {numeric:.5e} (relative error {error:.1e})");
        assert!(
            error < 0.03,
            "MiniLM {what}: autodiff {autodiff}, numeric {numeric}"
        );
    }

    // Left trainable, the same backbone does get gradients: the checks above
    // would see a freeze that did not happen.
    let grads = loss(&trainable).backward();
    let unfrozen = GradCount::of(&trainable, &grads);
    assert_eq!(unfrozen.require_grad, unfrozen.total);
    assert_eq!(unfrozen.with_grad, unfrozen.total);
}

#[test]
fn hard_gates_on_minilm_compute_the_discrete_model() {
    B::seed(&Default::default(), 15);
    let minilm = MiniLm::<B>::load();
    let batch = MiniLmBatch::<B>::load();
    let catalogue = minilm.catalogue(&all_kinds());
    let supernet = Supernet::<B>::new(&catalogue, &Default::default())
        .unwrap()
        .map(&mut Randomize(0.1));
    // Every third slot off, the others on at candidate (slot index mod 3).
    let picks: Vec<(usize, Option<usize>)> = catalogue
        .slots()
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(i, s)| (i, (!s.ranks.is_empty()).then(|| s.ranks[i % s.ranks.len()])))
        .collect();
    let config = PeftConfig::from_selection(&catalogue, 0, &picks).unwrap();
    let discrete = supernet.discretise(&config).unwrap();
    assert_eq!(discrete.num_params() as u64, config.trainable_params);
    let gates = Gates::from_config(&catalogue, &config, &Default::default()).unwrap();

    let from_supernet = floats(batch.hidden(&minilm.model, &supernet.hooks(&gates).unwrap()));
    let from_discrete = floats(batch.hidden(&minilm.model, &discrete));
    let bare = floats(batch.hidden(&minilm.model, &NoHooks));
    let diff = max_abs_diff(&from_supernet, &from_discrete);
    let moved = max_abs_diff(&from_discrete, &bare);
    println!(
        "MiniLM, {} of {} slots chosen: max |supernet under hard gates - discrete model| = {diff:.3e}; \
         both differ from the bare model by up to {moved:.3}",
        config.modules.len(),
        catalogue.slots().len()
    );
    assert!(diff <= 1e-5, "{diff}");
    assert!(moved > 1e-2, "{moved}");
}

// -------------------------------------------------------------------- T5 ---

struct T5Fixture<Bk: Backend> {
    name: &'static str,
    model: T5Model<Bk>,
    backbone: BackboneConfig,
    reference: Value,
}

impl<Bk: Backend> T5Fixture<Bk> {
    fn load(name: &'static str) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/t5")
            .join(name);
        let files = ModelFiles::from_dir(&dir).unwrap();
        let config = T5Config::from_json(&files.config_json).unwrap();
        T5Fixture {
            name,
            model: T5Model::from_weights(&config, &files.weights, &Default::default()).unwrap(),
            backbone: BackboneConfig::from_json(&files.config_json).unwrap(),
            reference: read_json(&dir.join("reference.json")),
        }
    }

    fn catalogue(&self, space: &SpaceDef) -> Catalogue {
        let options = PeftOptions {
            // d_model 24 and 32: a bottleneck of 3 or 4 (the default 32 would be 0).
            adapter_reduction: 8,
            lora_scaling: LoraScaling::Alpha { alpha: 16.0 },
            ..PeftOptions::default()
        };
        Catalogue::build(
            &self.backbone.shape(),
            space,
            &options,
            self.backbone.site_namer(""),
        )
        .unwrap()
    }

    fn ints(&self, key: &str) -> Tensor<Bk, 2, Int> {
        let v = &self.reference[key];
        let shape: Vec<usize> = serde_json::from_value(v["shape"].clone()).unwrap();
        let data: Vec<i64> = serde_json::from_value(v["data"].clone()).unwrap();
        Tensor::from_data(
            TensorData::new(data, [shape[0], shape[1]]),
            &Default::default(),
        )
    }

    fn expected(&self, key: &str) -> Vec<f32> {
        serde_json::from_value(self.reference[key]["data"].clone()).unwrap()
    }

    /// Encoder states and teacher-forced logits through `hooks`.
    fn forward<H: Hooks<Bk>>(&self, hooks: &H) -> (Tensor<Bk, 3>, Tensor<Bk, 3>) {
        self.forward_with(&self.model, hooks)
    }

    /// The same with another copy of the model's weights.
    fn forward_with<H: Hooks<Bk>>(
        &self,
        model: &T5Model<Bk>,
        hooks: &H,
    ) -> (Tensor<Bk, 3>, Tensor<Bk, 3>) {
        let (ids, mask) = (self.ints("input_ids"), self.ints("attention_mask"));
        let encoder = model.encode(ids.clone(), mask.clone(), hooks).unwrap();
        let logits = model
            .forward_teacher_forced(ids, mask, self.ints("labels"), hooks)
            .unwrap();
        (encoder, logits)
    }
}

#[test]
fn fresh_supernet_with_every_gate_on_is_the_bare_t5() {
    B::seed(&Default::default(), 13);
    for name in T5_FIXTURES {
        let t5 = T5Fixture::<B>::load(name);
        let (encoder, logits) = t5.forward(&NoHooks);
        let (bare_encoder, bare_logits) = (floats(encoder), floats(logits));
        for space in spaces() {
            let catalogue = t5.catalogue(&space);
            let supernet = Supernet::<B>::new(&catalogue, &Default::default()).unwrap();
            let gates = Gates::all_on(&catalogue, &Default::default());
            let hooks = supernet.hooks(&gates).unwrap();
            let recording = Recording::new(&hooks);
            let (encoder, logits) = t5.forward(&recording);
            let (encoder, logits) = (floats(encoder), floats(logits));
            let what = format!("T5 {}, space {}", t5.name, space.name);
            recording.assert_reached(&catalogue, &what);
            let diffs = [
                max_abs_diff(&encoder, &bare_encoder),
                max_abs_diff(&logits, &bare_logits),
                max_abs_diff(&encoder, &t5.expected("encoder_last_hidden_state")),
                max_abs_diff(&logits, &t5.expected("logits")),
            ];

            let trained = supernet.map(&mut Randomize(0.1));
            let (_, moved) = t5.forward(&trained.hooks(&gates).unwrap());
            let moved = max_abs_diff(&floats(moved), &bare_logits);
            println!(
                "{what} ({} slots): max |encoder - bare| = {:.3e}, |logits - bare| = {:.3e}, \
                 |encoder - transformers| = {:.3e}, |logits - transformers| = {:.3e}; \
                 random PEFT weights move the logits by {moved:.3}",
                catalogue.slots().len(),
                diffs[0],
                diffs[1],
                diffs[2],
                diffs[3]
            );
            assert!(diffs[0] <= SAME && diffs[1] <= SAME, "{what}: {diffs:?}");
            assert!(
                diffs[2] <= TOLERANCE && diffs[3] <= TOLERANCE,
                "{what}: {diffs:?}"
            );
            assert!(
                moved > 1e-2,
                "{what}: random PEFT weights change nothing ({moved})"
            );
        }
    }
}

#[test]
fn architecture_gradients_on_t5_and_none_for_the_frozen_backbone() {
    AB::seed(&Default::default(), 14);
    for name in T5_FIXTURES {
        let t5 = T5Fixture::<AB>::load(name);
        let catalogue = t5.catalogue(&all_kinds());
        let supernet = Supernet::<AB>::new(&catalogue, &Default::default())
            .unwrap()
            .map(&mut Randomize(0.1));
        let (on, weights) = soft_gates(&catalogue);
        let gates = Gates::new(on.clone(), Some(weights.clone()));
        let frozen = t5.model.clone().no_grad();
        let loss = |model: &T5Model<AB>| {
            let (_, logits) = t5.forward_with(model, &supernet.hooks(&gates).unwrap());
            seq2seq_loss(logits, t5.ints("labels"))
        };

        let grads = loss(&frozen).backward();
        let backbone = GradCount::of(&frozen, &grads);
        let peft = GradCount::of(&supernet, &grads);
        let what = format!("T5 {name}");
        let (min_on, min_rank) =
            assert_architecture_gradients(&catalogue, &on, &weights, &grads, &what);
        println!(
            "{what}, {} slots: smallest |d loss / d on| (key biases aside) = {min_on:.3e}, |d loss / d rank weight| = {min_rank:.3e}; \
             backbone: {} tensors, {} require grad, {} got one; PEFT: {} of {} tensors got one",
            catalogue.slots().len(),
            backbone.total,
            backbone.require_grad,
            backbone.with_grad,
            peft.with_grad,
            peft.total
        );
        assert!(
            backbone.total > 20,
            "{what}: {} backbone tensors",
            backbone.total
        );
        assert_eq!(
            backbone.require_grad, 0,
            "{what}: frozen parameters still require grad"
        );
        assert_eq!(
            backbone.with_grad, 0,
            "{what}: frozen parameters got gradients"
        );
        assert_eq!(
            peft.with_grad, peft.total,
            "{what}: some PEFT parameters got no gradient"
        );

        let grads = loss(&t5.model).backward();
        let unfrozen = GradCount::of(&t5.model, &grads);
        assert_eq!(unfrozen.require_grad, unfrozen.total, "{what}");
        assert_eq!(unfrozen.with_grad, unfrozen.total, "{what}");
    }
}

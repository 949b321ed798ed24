//! The supernet and the discrete PEFT model driven through the backbone hooks
//! at every site of a small T5: identity at initialisation, gradients to the
//! architecture gates, equality with the discrete model under hard gates, and
//! `peft_config.json` round trips with exact parameter counts.

#[path = "peft_naming.rs"]
mod naming;

use bipeft_core::backbone::{Hooks, Point, Site};
use bipeft_core::peft::{LoraScaling, PeftModel, PeftOptions};
use bipeft_core::peft_config::PeftConfig;
use bipeft_core::space::{presets, sites, BackboneShape, Catalogue, Kind, SpaceDef};
use bipeft_core::supernet::{Gates, Supernet};
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{activation, backend::Backend, Distribution, Tensor, Tolerance};

type B = Flex<f32>;
type AB = Autodiff<Flex<f32>>;

const BATCH: usize = 2;
const SEQ: usize = 3;

/// S1 and S2 together: every kind of module.
fn all_kinds() -> SpaceDef {
    let mut space = presets::s1();
    space.name = "s1+s2".into();
    space.rules.extend(presets::s2().rules);
    space
}

fn options(lora_scaling: LoraScaling) -> PeftOptions {
    PeftOptions {
        lora_scaling,
        // d_model 16 / 4: a 4-wide low-rank adapter bottleneck.
        adapter_reduction: 4,
        ..PeftOptions::default()
    }
}

fn catalogue(lora_scaling: LoraScaling) -> Catalogue {
    Catalogue::build(
        &naming::t5_tiny(false),
        &all_kinds(),
        &options(lora_scaling),
        naming::t5(false),
    )
    .unwrap()
}

/// What a backbone hands one hook: the inputs of one call.
enum Call<Bk: Backend> {
    Linear(Tensor<Bk, 3>, Tensor<Bk, 3>),
    Norm(Tensor<Bk, 3>, Tensor<Bk, 3>),
    Sublayer(Tensor<Bk, 3>, Tensor<Bk, 3>),
    Attention(Tensor<Bk, 4>, Tensor<Bk, 4>),
}

fn random<Bk: Backend, const D: usize>(shape: [usize; D]) -> Tensor<Bk, D> {
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), &Default::default())
}

/// Random inputs for one call at every site of `shape`.
fn calls<Bk: Backend>(shape: &BackboneShape) -> Vec<(Site, Call<Bk>)> {
    sites(shape)
        .into_iter()
        .map(|info| {
            let (i, o) = (info.d_in, info.d_out);
            let call = match info.site.point {
                Point::Attention => Call::Attention(
                    random([BATCH, shape.heads, SEQ, shape.d_kv]),
                    random([BATCH, shape.heads, SEQ, shape.d_kv]),
                ),
                Point::AttnNorm
                | Point::CrossAttnNorm
                | Point::FfnNorm
                | Point::FinalNorm
                | Point::EmbeddingNorm => {
                    Call::Norm(random([BATCH, SEQ, o]), random([BATCH, SEQ, o]))
                }
                Point::AttnSublayer | Point::CrossAttnSublayer | Point::FfnSublayer => {
                    Call::Sublayer(random([BATCH, SEQ, i]), random([BATCH, SEQ, o]))
                }
                _ => Call::Linear(random([BATCH, SEQ, i]), random([BATCH, SEQ, o])),
            };
            (info.site, call)
        })
        .collect()
}

/// Makes every call through `hooks`; returns (what went in as output, what came back), flattened.
fn run<Bk: Backend, H: Hooks<Bk>>(
    hooks: &H,
    calls: &[(Site, Call<Bk>)],
) -> Vec<(Tensor<Bk, 1>, Tensor<Bk, 1>)> {
    calls
        .iter()
        .map(|(site, call)| match call {
            Call::Linear(x, y) => (
                y.clone().flatten(0, 2),
                hooks.linear(*site, x, y.clone()).flatten(0, 2),
            ),
            Call::Norm(x, y) => (
                y.clone().flatten(0, 2),
                hooks.norm(*site, x, y.clone()).flatten(0, 2),
            ),
            Call::Sublayer(x, y) => (
                y.clone().flatten(0, 2),
                hooks.sublayer(*site, x, y.clone()).flatten(0, 2),
            ),
            Call::Attention(q, c) => (
                c.clone().flatten(0, 3),
                hooks.attention(*site, q, c.clone()).flatten(0, 3),
            ),
        })
        .collect()
}

/// Replaces every PEFT parameter by uniform noise, so that no module is the identity.
struct Randomize;

impl<Bk: Backend> ModuleMapper<Bk> for Randomize {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<Bk, D>>) -> Param<Tensor<Bk, D>> {
        param.map(|t| {
            Tensor::random(t.shape(), Distribution::Uniform(-0.5, 0.5), &t.device()).require_grad()
        })
    }
}

/// Soft gates: "on" in (0, 1), rank weights a softmax of random logits.
fn soft_gates<Bk: Backend>(catalogue: &Catalogue) -> Gates<Bk> {
    let on = random::<Bk, 1>([catalogue.slots().len()]).abs();
    let logits = random::<Bk, 2>([catalogue.rank_slots().len(), catalogue.num_candidates()]);
    Gates::new(on, Some(activation::softmax(logits, 1)))
}

/// Every third slot off; the others on, at candidate (slot index mod 3).
fn selection(catalogue: &Catalogue) -> Vec<(usize, Option<usize>)> {
    catalogue
        .slots()
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(i, s)| (i, (!s.ranks.is_empty()).then(|| s.ranks[i % s.ranks.len()])))
        .collect()
}

#[test]
fn supernet_holds_every_slot_at_its_largest_rank() {
    let catalogue = catalogue(LoraScaling::Unit);
    let kinds = catalogue.kinds();
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    let supernet = Supernet::<B>::new(&catalogue, &Default::default()).unwrap();
    assert_eq!(supernet.num_params() as u64, catalogue.max_params());
    assert_eq!(supernet.modules.lora.len(), 24);
    assert_eq!(supernet.modules.lora[0].rank(), 8);
    assert_eq!(supernet.modules.prefix.len(), 4);
    assert_eq!(supernet.modules.prefix_trunk.as_ref().unwrap().length(), 8);
}

#[test]
fn fresh_supernet_changes_nothing_whatever_the_gates() {
    B::seed(&Default::default(), 1);
    let catalogue = catalogue(LoraScaling::Alpha { alpha: 16.0 });
    let supernet = Supernet::<B>::new(&catalogue, &Default::default()).unwrap();
    let calls = calls::<B>(&catalogue.shape);
    for gates in [
        Gates::all_on(&catalogue, &Default::default()),
        soft_gates(&catalogue),
    ] {
        let hooks = supernet.hooks(&gates).unwrap();
        for (before, after) in run(&hooks, &calls) {
            after.into_data().assert_eq(&before.into_data(), true);
        }
    }
}

#[test]
fn gradients_reach_every_gate_and_rank_weight() {
    AB::seed(&Default::default(), 2);
    let catalogue = catalogue(LoraScaling::Unit);
    let supernet = Supernet::<AB>::new(&catalogue, &Default::default())
        .unwrap()
        .map(&mut Randomize);
    let gates = soft_gates::<AB>(&catalogue);
    let on = gates.on.clone().require_grad();
    let weights = gates.rank_weights.clone().unwrap().require_grad();
    let gates = Gates::new(on.clone(), Some(weights.clone()));
    let outputs = run(
        &supernet.hooks(&gates).unwrap(),
        &calls::<AB>(&catalogue.shape),
    );
    let loss = outputs
        .into_iter()
        .map(|(_, after)| after.powi_scalar(2).sum())
        .reduce(|a, b| a + b)
        .unwrap();
    let grads = loss.backward();

    let g_on = on
        .grad(&grads)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    for (slot, g) in catalogue.slots().iter().zip(&g_on) {
        assert!(
            g.abs() > 1e-6,
            "no gradient to `on` of {} `{}`",
            slot.kind,
            slot.name
        );
    }
    let g_rank = weights
        .grad(&grads)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let k = catalogue.num_candidates();
    for (row, &slot) in catalogue.rank_slots().iter().enumerate() {
        let s = &catalogue.slots()[slot];
        // The prefix's parameters do not depend on its length, but its output does.
        assert!(
            g_rank[row * k..(row + 1) * k]
                .iter()
                .all(|g| g.abs() > 1e-7),
            "no gradient to the rank weights of {} `{}`: {:?}",
            s.kind,
            s.name,
            &g_rank[row * k..(row + 1) * k]
        );
    }
    // The PEFT weights learn too (the backbone's are not here at all).
    assert!(supernet.modules.lora[3].b.grad(&grads).is_some());
    assert!(supernet
        .modules
        .prefix_trunk
        .as_ref()
        .unwrap()
        .embedding
        .grad(&grads)
        .is_some());
}

#[test]
fn hard_gates_compute_exactly_the_discrete_model() {
    B::seed(&Default::default(), 3);
    for scaling in [LoraScaling::Unit, LoraScaling::Alpha { alpha: 16.0 }] {
        let catalogue = catalogue(scaling);
        let supernet = Supernet::<B>::new(&catalogue, &Default::default())
            .unwrap()
            .map(&mut Randomize);
        let config =
            PeftConfig::from_selection(&catalogue, 10_000, &selection(&catalogue)).unwrap();
        let discrete = supernet.discretise(&config).unwrap();
        assert_eq!(discrete.num_params() as u64, config.trainable_params);
        let gates = Gates::from_config(&catalogue, &config, &Default::default()).unwrap();
        let calls = calls::<B>(&catalogue.shape);
        let from_supernet = run(&supernet.hooks(&gates).unwrap(), &calls);
        let from_discrete = run(&discrete, &calls);
        let mut changed = 0;
        for ((before, a), (_, b)) in from_supernet.into_iter().zip(from_discrete) {
            a.clone()
                .into_data()
                .assert_approx_eq::<f32>(&b.into_data(), Tolerance::absolute(1e-5));
            if (a - before).abs().max().into_scalar() > 0.0 {
                changed += 1;
            }
        }
        // Most sites have a chosen module; with random weights each one shows.
        assert!(changed > 40, "only {changed} sites changed");
    }
}

#[test]
fn pruning_masks_and_fixed_ranks() {
    B::seed(&Default::default(), 4);
    let catalogue = catalogue(LoraScaling::Unit);
    let supernet = Supernet::<B>::new(&catalogue, &Default::default())
        .unwrap()
        .map(&mut Randomize);
    let calls = calls::<B>(&catalogue.shape);
    let dev = Default::default();

    // Pruning every slot leaves the backbone alone.
    let pruned = Gates::all_on(&catalogue, &dev)
        .masked(&vec![false; catalogue.slots().len()])
        .unwrap();
    for (before, after) in run(&supernet.hooks(&pruned).unwrap(), &calls) {
        after.into_data().assert_eq(&before.into_data(), true);
    }
    // Fixing every row to its smallest candidate is the discrete model at the smallest ranks.
    let rows = catalogue.rank_slots().len();
    let fixed = soft_gates::<B>(&catalogue)
        .with_fixed_ranks(&catalogue, &vec![Some(0); rows])
        .unwrap();
    let fixed = Gates::new(
        Tensor::ones([catalogue.slots().len()], &dev),
        fixed.rank_weights,
    );
    let smallest: Vec<(usize, Option<usize>)> = catalogue
        .slots()
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.ranks.first().copied()))
        .collect();
    let config = PeftConfig::from_selection(&catalogue, 0, &smallest).unwrap();
    let discrete = supernet.discretise(&config).unwrap();
    let a = run(&supernet.hooks(&fixed).unwrap(), &calls);
    let b = run(&discrete, &calls);
    for ((_, a), (_, b)) in a.into_iter().zip(b) {
        a.into_data()
            .assert_approx_eq::<f32>(&b.into_data(), Tolerance::absolute(1e-5));
    }

    // Bad shapes are errors, not panics.
    let wrong = Gates::<B>::new(Tensor::ones([3], &dev), None);
    let e = supernet.hooks(&wrong).err().unwrap().to_string();
    assert!(e.contains("the space has 92 slots"), "{e}");
    let e = Gates::<B>::all_on(&catalogue, &dev)
        .masked(&[true])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("pruning mask has 1 entries for 92 slots"), "{e}");
    let e = Gates::<B>::all_on(&catalogue, &dev)
        .with_fixed_ranks(&catalogue, &vec![Some(3); rows])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("out of range (3 candidates)"), "{e}");
}

#[test]
fn fixed_rank_rows_take_no_gradient() {
    let catalogue = catalogue(LoraScaling::Unit);
    let supernet = Supernet::<AB>::new(&catalogue, &Default::default())
        .unwrap()
        .map(&mut Randomize);
    let gates = soft_gates::<AB>(&catalogue);
    let weights = gates.rank_weights.clone().unwrap().require_grad();
    let rows = catalogue.rank_slots().len();
    let fixed: Vec<Option<usize>> = (0..rows).map(|r| (r % 2 == 0).then_some(1)).collect();
    let gates = Gates::new(gates.on, Some(weights.clone()))
        .with_fixed_ranks(&catalogue, &fixed)
        .unwrap();
    let loss = run(
        &supernet.hooks(&gates).unwrap(),
        &calls::<AB>(&catalogue.shape),
    )
    .into_iter()
    .map(|(_, after)| after.sum())
    .reduce(|a, b| a + b)
    .unwrap();
    let grads = loss.backward();
    let g = weights
        .grad(&grads)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let k = catalogue.num_candidates();
    for row in 0..rows {
        let row_g = &g[row * k..(row + 1) * k];
        if row % 2 == 0 {
            assert!(
                row_g.iter().all(|&x| x == 0.0),
                "fixed row {row}: {row_g:?}"
            );
        } else {
            assert!(row_g.iter().any(|&x| x != 0.0), "free row {row}: {row_g:?}");
        }
    }
}

#[test]
fn peft_config_round_trips_and_builds_its_exact_modules() {
    let catalogue = catalogue(LoraScaling::Alpha { alpha: 8.0 });
    let config = PeftConfig::from_selection(&catalogue, 12_345, &selection(&catalogue)).unwrap();
    let sum: u64 = config.modules.iter().map(|m| m.params).sum::<u64>()
        + config.shared.iter().map(|p| p.params).sum::<u64>();
    assert_eq!(config.trainable_params, sum);
    assert_eq!(config.budget_params, 12_345);
    assert_eq!(config.modules.len(), selection(&catalogue).len());

    let json = config.to_json().unwrap();
    assert_eq!(
        PeftConfig::from_json(&json, "peft_config.json").unwrap(),
        config
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["format"], "bipeft-peft-config");
    assert_eq!(value["version"], 1);
    assert_eq!(value["backbone"]["model_type"], "t5");
    assert_eq!(value["space"]["name"], "s1+s2");
    assert_eq!(value["options"]["lora_scaling"]["alpha"], 8.0);
    let first = &value["modules"][0];
    assert_eq!(first["name"], "encoder.block.0.layer.0.layer_norm");
    assert_eq!(first["kind"], "lnfit");
    assert!(first["rank"].is_null());
    assert_eq!(first["params"], 16);

    let path = std::env::temp_dir().join(format!("bipeft-peft-config-{}.json", std::process::id()));
    config.save(&path).unwrap();
    let loaded = PeftConfig::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded, config);

    let dev = Default::default();
    let model = PeftModel::<B>::build(&loaded, naming::t5(false), &dev).unwrap();
    assert_eq!(model.num_params() as u64, loaded.trainable_params);
    // Each module at exactly its rank.
    let loras: Vec<usize> = loaded
        .modules
        .iter()
        .filter(|m| m.kind == Kind::Lora)
        .map(|m| m.rank.unwrap())
        .collect();
    let built: Vec<usize> = model.modules.lora.iter().map(|l| l.rank()).collect();
    assert_eq!(built, loras);
    let widths: Vec<usize> = model
        .modules
        .serial_adapter
        .iter()
        .map(|a| a.width())
        .collect();
    let chosen: Vec<usize> = loaded
        .modules
        .iter()
        .filter(|m| m.kind == Kind::SerialAdapter)
        .map(|m| m.rank.unwrap())
        .collect();
    assert_eq!(widths, chosen);
    // Fresh, it is the identity.
    for (before, after) in run(&model, &calls::<B>(&catalogue.shape)) {
        after.into_data().assert_eq(&before.into_data(), true);
    }
}

#[test]
fn bad_configurations_are_clear_errors() {
    let catalogue = catalogue(LoraScaling::Unit);
    let config = PeftConfig::from_selection(&catalogue, 0, &selection(&catalogue)).unwrap();
    let json = config.to_json().unwrap();
    let err = |text: String| {
        PeftConfig::from_json(&text, "cfg.json")
            .unwrap_err()
            .to_string()
    };

    let e = err(json.replacen("\"version\": 1", "\"version\": 7", 1));
    assert!(
        e.contains("malformed cfg.json: version 7 is not supported"),
        "{e}"
    );
    let e = err(json.replacen(
        &format!("\"trainable_params\": {}", config.trainable_params),
        "\"trainable_params\": 5",
        1,
    ));
    assert!(
        e.contains("trainable_params is 5 but the modules and shared parts add up to"),
        "{e}"
    );
    let e = err(json.replacen(
        "\"kind\": \"lnfit\",\n      \"rank\": null",
        "\"kind\": \"lnfit\",\n      \"rank\": 2",
        1,
    ));
    assert!(e.contains("is on/off; its rank must be null"), "{e}");
    let e = err("{\"format\": \"bipeft-peft-config\"}".into());
    assert!(e.starts_with("malformed cfg.json: missing field"), "{e}");

    let dev = Default::default();
    let mut renamed = config.clone();
    renamed.modules[0].name = "encoder.block.9.layer.0.layer_norm".into();
    let e = PeftModel::<B>::build(&renamed, naming::t5(false), &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("lnfit module `encoder.block.9.layer.0.layer_norm` names no site"),
        "{e}"
    );

    let mut miscounted = config.clone();
    let lora = miscounted
        .modules
        .iter()
        .position(|m| m.kind == Kind::Lora)
        .unwrap();
    miscounted.modules[lora].params += 1;
    miscounted.trainable_params += 1;
    let e = PeftModel::<B>::build(&miscounted, naming::t5(false), &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("the configuration says"), "{e}");

    let e = PeftConfig::from_selection(&catalogue, 0, &[(2, Some(3))])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rank Some(3) is not one of its candidates [1, 4, 8]"),
        "{e}"
    );
    let e = PeftConfig::from_selection(&catalogue, 0, &[(2, Some(1)), (2, Some(1))])
        .unwrap_err()
        .to_string();
    assert!(e.contains("is chosen twice"), "{e}");
    let e = PeftConfig::from_selection(&catalogue, 0, &[(9999, None)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("slot 9999 is not in the catalogue"), "{e}");
}

#[test]
fn prefix_only_configuration_counts_its_trunk_once() {
    let catalogue = catalogue(LoraScaling::Unit);
    let prefixes: Vec<(usize, Option<usize>)> = catalogue
        .slots()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == Kind::Prefix)
        .map(|(i, _)| (i, Some(4)))
        .collect();
    let config = PeftConfig::from_selection(&catalogue, 0, &prefixes).unwrap();
    // 4 layers × (2·(2·16) + 2·16 + 1) and a trunk of 4 × 16 + 16·2 + 2.
    assert_eq!(config.shared.len(), 1);
    assert_eq!(config.shared[0].params, 4 * 16 + 32 + 2);
    assert_eq!(config.trainable_params, 4 * 97 + 98);
    let model = PeftModel::<B>::build(&config, naming::t5(false), &Default::default()).unwrap();
    assert_eq!(model.num_params() as u64, config.trainable_params);
}

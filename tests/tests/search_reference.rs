//! The search's numerics against PyTorch: fixtures from
//! `tests/fixtures/generate_search.py` (Gumbel-softmax, the architecture
//! regulariser, DSI, sensitivities, expected size, the two optimisers).

use bipeft_core::search::arch::{ArchLogits, ArchSnapshot};
use bipeft_core::search::budget::expected_params;
use bipeft_core::search::dimension_selection::{fix_stable_ranks, RankWindow};
use bipeft_core::search::gumbel::hard_gumbel_softmax_with_noise;
use bipeft_core::search::optim::{arch_optimizer, clip_global_norm, weight_optimizer};
use bipeft_core::search::sensitivity::{saliency_pairs, SensitivityTracker};
use bipeft_core::search::{
    Criterion, SearchConfig, SearchSlot, SearchSlots, SelectionConfig, SelectionState,
    SensitivityForm,
};
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use futures_lite::future::block_on;
use serde_json::Value;

type Inner = Flex<f32>;
type B = Autodiff<Inner>;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/search/reference.json"
    );
    let text = std::fs::read_to_string(path).expect("run tests/fixtures/generate_search.py");
    serde_json::from_str(&text).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn tensor<Bk: Backend, const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<Bk, D> {
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

fn values<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

/// Largest |a - b| / max(1, |b|).
fn max_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f64::max)
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

#[test]
fn hard_gumbel_softmax_matches_torch() {
    let fx = fixture();
    let mut worst: f64 = 0.0;
    for case in fx["gumbel"].as_array().unwrap() {
        let (rows, k) = (
            case["rows"].as_u64().unwrap() as usize,
            case["k"].as_u64().unwrap() as usize,
        );
        let logits = tensor::<B, 2>(f32s(&case["logits"]), [rows, k]).require_grad();
        let noise = tensor::<B, 2>(f32s(&case["noise"]), [rows, k]);
        let weight = tensor::<B, 2>(f32s(&case["weight"]), [rows, k]);
        let y =
            hard_gumbel_softmax_with_noise(logits.clone(), noise, case["tau"].as_f64().unwrap());
        let out = widen(&values(y.clone()));
        let grads = y.mul(weight).sum().backward();
        let grad = widen(&values(logits.grad(&grads).unwrap()));
        worst = worst
            .max(max_err(&out, &f64s(&case["output"])))
            .max(max_err(&grad, &f64s(&case["grad"])));
    }
    eprintln!("gumbel-softmax: max error {worst:.2e}");
    assert!(worst < 1e-6, "{worst}");
}

#[test]
fn regulariser_matches_torch() {
    let fx = &fixture()["regulariser"];
    let arch = ArchLogits::<B> {
        binary_logits: Param::from_tensor(tensor(f32s(&fx["alpha"]), [5, 2])),
        rank_logits: Param::from_tensor(tensor(f32s(&fx["beta"]), [4, 3])),
    };
    let reg = arch.regulariser();
    let value = values(reg.clone())[0] as f64;
    let grads = reg.backward();
    let ga = widen(&values(arch.binary_logits.grad(&grads).unwrap()));
    let gb = widen(&values(arch.rank_logits.grad(&grads).unwrap()));
    let err = (value - fx["value"].as_f64().unwrap()).abs();
    let gerr = max_err(&ga, &f64s(&fx["alpha_grad"])).max(max_err(&gb, &f64s(&fx["beta_grad"])));
    eprintln!("regulariser: value error {err:.2e}, gradient error {gerr:.2e}");
    assert!(err < 1e-6 && gerr < 1e-6, "{err} {gerr}");
}

#[test]
fn dimension_stability_matches_torch() {
    let fx = &fixture()["dsi"];
    let (rows, k) = (
        fx["rows"].as_u64().unwrap() as usize,
        fx["k"].as_u64().unwrap() as usize,
    );
    let mut window = RankWindow::new();
    for snapshot in fx["window"].as_array().unwrap() {
        window.record(&f32s(snapshot));
    }
    let dsi = window.dsi(k);
    let expected = f64s(&fx["dsi"]);
    let rel = dsi
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-12))
        .fold(0.0, f64::max);
    let g = window.global_stability(k);
    eprintln!(
        "DSI: max relative error {rel:.2e}; global stability {g} vs {}",
        fx["global_stability"]
    );
    assert!(rel < 1e-4, "{dsi:?} vs {expected:?}");
    assert!((g - fx["global_stability"].as_f64().unwrap()).abs() < 1e-12);

    let slots = SearchSlots::new(
        vec![1, 4, 8],
        (0..rows)
            .map(|i| SearchSlot::ranked(format!("m{i}"), vec![1, 4, 8]))
            .collect(),
    )
    .unwrap();
    let mut state = SelectionState::new(&slots, 3);
    state.pruned[fx["pruned_row"].as_u64().unwrap() as usize] = true;
    state.fixed_rank[fx["fixed_row"].as_u64().unwrap() as usize] = Some(0);
    let remaining = fx["remaining"].as_u64().unwrap() as usize;
    let step = fix_stable_ranks(&mut window, &slots, &mut state, remaining).unwrap();
    let fixed: Vec<(usize, usize)> = step.fixed.iter().map(|f| (f.row, f.candidate)).collect();
    let expected: Vec<(usize, usize)> = fx["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_u64().unwrap() as usize,
                p[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(fixed.len(), fx["fix_count"].as_u64().unwrap() as usize);
    assert_eq!(fixed, expected);
}

#[test]
fn sensitivities_match_torch() {
    let fx = &fixture()["sensitivity"];
    // Per module, the sizes of its parameter tensors.
    let shapes: Vec<Vec<usize>> = fx["shapes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        })
        .collect();
    let sizes: Vec<usize> = shapes.iter().map(|m| m.iter().sum()).collect();
    // One-rank "matrix" slots: the sensitivity divides by their size.
    let slots = SearchSlots::new(
        vec![1],
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| SearchSlot::ranked(format!("m{i}"), vec![n as u64]))
            .collect(),
    )
    .unwrap();
    let criteria = [
        ("tra", Criterion::Tra),
        ("val", Criterion::Val),
        ("tra_val", Criterion::TraVal),
        ("tra_val_cos1", Criterion::TraValCos1),
        ("tra_val_cos2", Criterion::TraValCos2),
    ];
    let mut worst: f64 = 0.0;
    for (name, criterion) in criteria {
        for (form, key) in [
            (SensitivityForm::Smoothed, "smoothed"),
            (
                SensitivityForm::SmoothedTimesUncertainty,
                "smoothed_times_uncertainty",
            ),
        ] {
            let config = SelectionConfig::new()
                .with_criterion(criterion)
                .with_form(form);
            let mut tracker = SensitivityTracker::new(sizes.len(), &config);
            for (i, step) in fx["steps"].as_array().unwrap().iter().enumerate() {
                let product = |grads: &str| -> Vec<Vec<Tensor<Inner, 1>>> {
                    shapes
                        .iter()
                        .enumerate()
                        .map(|(m, module)| {
                            module
                                .iter()
                                .enumerate()
                                .map(|(j, &n)| {
                                    let theta =
                                        tensor::<Inner, 1>(f32s(&step["theta"][m][j]), [n]);
                                    theta.mul(tensor(f32s(&step[grads][m][j]), [n]))
                                })
                                .collect()
                        })
                        .collect()
                };
                let pairs =
                    block_on(saliency_pairs(&product("train_grad"), &product("val_grad"))).unwrap();
                tracker.update(&slots, &pairs, &vec![false; sizes.len()]);
                let got = tracker.sensitivities().unwrap();
                let want = f64s(&fx["criteria"][name][key][i]);
                let rel = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs() / b.abs().max(1e-3))
                    .fold(0.0, f64::max);
                worst = worst.max(rel);
                assert!(rel < 1e-5, "{name} {key} step {i}: {got:?} vs {want:?}");
            }
        }
    }
    eprintln!("sensitivities: max relative error {worst:.2e}");
}

#[test]
fn expected_size_matches_torch() {
    let fx = &fixture()["expectation"];
    let ranks: Vec<usize> = fx["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let n_max = f64s(&fx["n_max"]);
    let vector = f64s(&fx["vector"]);
    let max_rank = *ranks.last().unwrap() as f64;
    let mut list: Vec<SearchSlot> = n_max
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            SearchSlot::ranked(
                format!("m{i}"),
                ranks
                    .iter()
                    .map(|&r| (n * r as f64 / max_rank) as u64)
                    .collect(),
            )
        })
        .collect();
    list.extend(
        vector
            .iter()
            .enumerate()
            .map(|(i, &n)| SearchSlot::on_off(format!("v{i}"), n as u64)),
    );
    let slots = SearchSlots::new(ranks.clone(), list).unwrap();
    let snapshot = ArchSnapshot::new(f32s(&fx["alpha"]), f32s(&fx["beta"]), ranks.len());
    let mut state = SelectionState::new(&slots, 0);
    for p in fx["pruned"].as_array().unwrap() {
        state.pruned[p.as_u64().unwrap() as usize] = true;
    }
    for (row, f) in fx["fixed"].as_array().unwrap().iter().enumerate() {
        state.fixed_rank[row] = f.as_u64().map(|c| c as usize);
    }
    for (remaining, soft) in [("20", true), ("5", false)] {
        let want = &fx["by_remaining"][remaining];
        let got = expected_params(&slots, &snapshot, &state, soft, false);
        let rel =
            (got.total - want["total"].as_f64().unwrap()).abs() / want["total"].as_f64().unwrap();
        let counts = max_err(
            &got.module_counts[..n_max.len()],
            &f64s(&want["matrix_counts"]),
        );
        eprintln!("E with T = {remaining}: relative error {rel:.2e}, per-module {counts:.2e}");
        assert!(rel < 1e-6 && counts < 1e-4, "{got:?}");
    }
}

#[derive(Module, Debug)]
struct Two<B: Backend> {
    a: Param<Tensor<B, 1>>,
    b: Param<Tensor<B, 2>>,
}

#[test]
fn optimisers_match_torch() {
    let fx = &fixture()["optimiser"];
    let config = SearchConfig::new(1);
    let fresh = || Two::<B> {
        a: Param::from_tensor(tensor(f32s(&fx["a0"]), [3])),
        b: Param::from_tensor(tensor(f32s(&fx["b0"]), [2, 2])),
    };
    let grads_of = |model: &Two<B>, step: &Value| {
        let ga = tensor::<B, 1>(f32s(&step[0]), [3]);
        let gb = tensor::<B, 2>(f32s(&step[1]), [2, 2]);
        let loss = model.a.val().mul(ga).sum().add(model.b.val().mul(gb).sum());
        GradientsParams::from_grads(loss.backward(), model)
    };
    let steps = fx["grads"].as_array().unwrap();
    let mut worst: f64 = 0.0;

    let mut model = fresh();
    let mut adam = arch_optimizer(&config).init::<B, Two<B>>();
    for (i, step) in steps.iter().enumerate() {
        let grads = grads_of(&model, step);
        model = adam.step(config.arch_lr, model, grads);
        let got = [widen(&values(model.a.val())), widen(&values(model.b.val()))].concat();
        let want = [f64s(&fx["adam"][i][0]), f64s(&fx["adam"][i][1])].concat();
        worst = worst.max(max_err(&got, &want));
    }
    let mut model = fresh();
    let mut adamw = weight_optimizer(&config).init::<B, Two<B>>();
    for (i, step) in steps.iter().enumerate() {
        let mut grads = grads_of(&model, step);
        clip_global_norm(&model, &mut grads, config.clip_grad_norm.unwrap());
        model = adamw.step(config.weight_lr, model, grads);
        let got = [widen(&values(model.a.val())), widen(&values(model.b.val()))].concat();
        let want = [f64s(&fx["adamw"][i][0]), f64s(&fx["adamw"][i][1])].concat();
        worst = worst.max(max_err(&got, &want));
    }
    eprintln!("Adam / AdamW + clipping: max error {worst:.2e}");
    assert!(worst < 1e-6, "{worst}");
}

//! The burn T5 against Hugging Face `transformers` (5.24, f32, eager attention).
//!
//! Fixtures (`tests/fixtures/t5/`, written by `tests/fixtures/generate_t5.py`):
//! small random T5s saved by `save_pretrained`, with `reference.json` holding
//! fixed inputs and transformers' encoder states, teacher-forced logits and
//! loss, greedy ids and parameter count. Float outputs must agree to 1e-4
//! absolute, greedy ids exactly.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bipeft_core::backbone::t5::position_bias::relative_position_bucket;
use bipeft_core::backbone::t5::{all_sites, seq2seq_loss, site_name, T5Config, T5Model};
use bipeft_core::backbone::{Hooks, NoHooks, Point, Site, Stack};
use bipeft_core::loader::{ModelFiles, Weights};
use bipeft_core::Error;
use burn::module::Module;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use serde_json::Value;

type B = burn::backend::Flex<f32>;

const TOLERANCE: f32 = 1e-4;

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/t5")
        .join(name)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn shape_of(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn int_tensor(
    v: &Value,
    device: &<B as burn::tensor::backend::BackendTypes>::Device,
) -> Tensor<B, 2, Int> {
    let shape = shape_of(v);
    Tensor::from_data(TensorData::new(ints(v), [shape[0], shape[1]]), device)
}

fn tensor_floats<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn tensor_ints<const D: usize>(t: Tensor<B, D, Int>) -> Vec<i64> {
    t.into_data().iter::<i64>().collect()
}

fn max_abs_diff(found: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(found.len(), expected.len(), "lengths differ");
    found
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn load(name: &str) -> (T5Model<B>, ModelFiles, Value) {
    let dir = fixture_dir(name);
    let files = ModelFiles::from_dir(&dir).unwrap();
    let config = T5Config::from_json(&files.config_json).unwrap();
    let model = T5Model::<B>::from_weights(&config, &files.weights, &Default::default()).unwrap();
    (model, files, read_json(&dir.join("reference.json")))
}

/// Largest differences against transformers, per output.
#[derive(Debug)]
struct Diffs {
    encoder: f32,
    logits: f32,
    loss: f32,
}

/// Encoder states, teacher-forced logits, loss, greedy ids and parameter count.
fn check_against_transformers(name: &str) -> Diffs {
    let (model, _, reference) = load(name);
    let device = Default::default();
    let input_ids = int_tensor(&reference["input_ids"], &device);
    let mask = int_tensor(&reference["attention_mask"], &device);
    let labels = int_tensor(&reference["labels"], &device);

    let encoder = model
        .encode(input_ids.clone(), mask.clone(), &NoHooks)
        .unwrap();
    let expected = &reference["encoder_last_hidden_state"];
    assert_eq!(encoder.dims().to_vec(), shape_of(expected));
    let encoder_diff = max_abs_diff(&tensor_floats(encoder), &floats(expected));

    let logits = model
        .forward_teacher_forced(input_ids.clone(), mask.clone(), labels.clone(), &NoHooks)
        .unwrap();
    let [batch, len, vocab] = logits.dims();
    assert_eq!(vocab, model.config().vocab_size);
    let loss = seq2seq_loss(logits.clone(), labels).into_scalar();
    let loss_diff = (loss - reference["loss"].as_f64().unwrap() as f32).abs();

    let logits_diff = match reference.get("logits_vocab_ids") {
        // Full logits stored.
        None => {
            assert_eq!(vec![batch, len, vocab], shape_of(&reference["logits"]));
            max_abs_diff(&tensor_floats(logits), &floats(&reference["logits"]))
        }
        // A column sample plus full-vocabulary logsumexp and argmax.
        Some(ids) => {
            let ids: Vec<i64> = ids
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_i64().unwrap())
                .collect();
            let columns =
                Tensor::<B, 1, Int>::from_data(TensorData::new(ids.clone(), [ids.len()]), &device);
            let sampled = logits.clone().select(2, columns);
            let mut diff = max_abs_diff(&tensor_floats(sampled), &floats(&reference["logits"]));
            let lse = logits.clone().exp().sum_dim(2).log();
            diff = diff.max(max_abs_diff(
                &tensor_floats(lse),
                &floats(&reference["logits_logsumexp"]),
            ));
            assert_eq!(
                tensor_ints(logits.argmax(2)),
                ints(&reference["logits_argmax"]),
                "{name}: argmax over the vocabulary"
            );
            diff
        }
    };

    let max_new_tokens = reference["max_new_tokens"].as_u64().unwrap() as usize;
    let generated = model
        .generate_greedy(input_ids, mask, max_new_tokens, &NoHooks)
        .unwrap();
    assert_eq!(generated.dims().to_vec(), shape_of(&reference["generated"]));
    assert_eq!(
        tensor_ints(generated),
        ints(&reference["generated"]),
        "{name}: greedy ids"
    );

    let hf_params = reference["num_parameters"].as_u64().unwrap() as usize;
    assert_eq!(
        model.num_params(),
        hf_params,
        "{name}: parameters of the loaded model"
    );
    let config = model.config();
    let config_params = if config.tie_word_embeddings && model.lm_head.is_some() {
        // transformers 5 writes `tie_word_embeddings: true` even for the
        // untied head it saves: the config alone cannot know.
        config.num_params() + config.vocab_size * config.d_model
    } else {
        config.num_params()
    };
    assert_eq!(config_params, hf_params, "{name}: T5Config::num_params");

    let diffs = Diffs {
        encoder: encoder_diff,
        logits: logits_diff,
        loss: loss_diff,
    };
    println!("{name}: max abs diff vs transformers {diffs:?}");
    assert!(diffs.encoder <= TOLERANCE, "{name}: encoder {diffs:?}");
    assert!(diffs.logits <= TOLERANCE, "{name}: logits {diffs:?}");
    assert!(diffs.loss <= TOLERANCE, "{name}: loss {diffs:?}");
    diffs
}

#[test]
fn original_t5_relu_tied_matches_transformers() {
    let (model, _, _) = load("relu-tied");
    assert!(model.lm_head.is_none() && model.config().scale_decoder_outputs);
    check_against_transformers("relu-tied");
}

#[test]
fn v1_1_gated_gelu_untied_matches_transformers() {
    let (model, _, _) = load("gated-gelu-untied");
    let config = model.config();
    assert!(model.lm_head.is_some() && !config.scale_decoder_outputs);
    assert_eq!((config.num_layers, config.num_decoder_layers), (2, 3));
    check_against_transformers("gated-gelu-untied");
}

#[test]
fn exact_gelu_one_head_saved_by_transformers_5_matches() {
    let (model, _, _) = load("gelu-one-head");
    // Config says tied (transformers 5 always writes that); the checkpoint's
    // own lm_head.weight wins, and the output is not rescaled.
    assert!(model.config().tie_word_embeddings && model.lm_head.is_some());
    check_against_transformers("gelu-one-head");
}

#[test]
fn tiny_t5_with_real_tokenizer_matches_transformers() {
    let (_, files, reference) = load("tiny-t5-tok");
    let tokenizer = files.require_tokenizer().unwrap();
    assert_eq!(tokenizer.vocab_size(), 32100);
    for (key, ids_key) in [("texts", "text_ids"), ("targets", "target_ids")] {
        let texts = reference[key].as_array().unwrap();
        let expected = reference[ids_key].as_array().unwrap();
        for (text, ids) in texts.iter().zip(expected) {
            let ids: Vec<u32> = ids
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(
                tokenizer.encode(text.as_str().unwrap()).unwrap(),
                ids,
                "{text}"
            );
        }
    }
    // The checkpoint is stored in f16; the reference was computed in f32 from those values.
    check_against_transformers("tiny-t5-tok");
}

#[test]
fn relative_position_buckets_match_transformers() {
    let cases = read_json(&fixture_dir("buckets.json"));
    for case in cases.as_array().unwrap() {
        let num_buckets = case["num_buckets"].as_u64().unwrap() as usize;
        let max_distance = case["max_distance"].as_u64().unwrap() as usize;
        let bidirectional = case["bidirectional"].as_bool().unwrap();
        let first = case["first_relative_position"].as_i64().unwrap();
        for (offset, expected) in case["buckets"].as_array().unwrap().iter().enumerate() {
            let relative = first + offset as i64;
            assert_eq!(
                relative_position_bucket(relative, bidirectional, num_buckets, max_distance) as u64,
                expected.as_u64().unwrap(),
                "relative {relative}, buckets {num_buckets}, max distance {max_distance}, bidirectional {bidirectional}"
            );
        }
    }
}

/// The relu-tied checkpoint re-serialised through `edit`.
fn edited_checkpoint(
    edit: impl Fn(&str, Vec<usize>, Vec<u8>) -> Option<(Vec<usize>, Vec<u8>)>,
) -> Weights {
    let bytes = std::fs::read(fixture_dir("relu-tied").join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut kept: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in tensors.tensors() {
        if let Some((shape, data)) = edit(&name, view.shape().to_vec(), view.data().to_vec()) {
            kept.push((name, view.dtype(), shape, data));
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = kept
        .iter()
        .map(|(name, dtype, shape, data)| {
            (
                name.clone(),
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    let bytes = safetensors::serialize(views, None).unwrap();
    Weights::from_bytes(vec![("model.safetensors".into(), bytes)]).unwrap()
}

fn relu_tied_config() -> T5Config {
    T5Config::from_json(
        &std::fs::read_to_string(fixture_dir("relu-tied").join("config.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn missing_tensor_is_a_typed_error() {
    let dropped = "decoder.block.1.layer.1.EncDecAttention.v.weight";
    let weights = edited_checkpoint(|name, shape, data| (name != dropped).then_some((shape, data)));
    let err =
        T5Model::<B>::from_weights(&relu_tied_config(), &weights, &Default::default()).unwrap_err();
    match err {
        Error::MissingTensor { name } => assert_eq!(name, dropped),
        other => panic!("expected MissingTensor, got {other:?}"),
    }

    // A config that says the head is untied needs lm_head.weight.
    let mut untied = relu_tied_config();
    untied.tie_word_embeddings = false;
    let weights = Weights::from_dir(&fixture_dir("relu-tied")).unwrap();
    let err = T5Model::<B>::from_weights(&untied, &weights, &Default::default()).unwrap_err();
    assert!(
        matches!(&err, Error::MissingTensor { name } if name == "lm_head.weight"),
        "{err}"
    );

    // More blocks than the checkpoint has.
    let mut deeper = relu_tied_config();
    deeper.num_layers = 3;
    let err = T5Model::<B>::from_weights(&deeper, &weights, &Default::default()).unwrap_err();
    assert!(
        matches!(&err, Error::MissingTensor { name } if name == "encoder.block.2.layer.0.SelfAttention.q.weight"),
        "{err}"
    );
}

#[test]
fn wrong_shaped_tensor_is_a_typed_error() {
    let target = "encoder.block.1.layer.1.DenseReluDense.wo.weight";
    // [32, 64] stored as [64, 32]: same bytes, transposed shape.
    let weights = edited_checkpoint(|name, shape, data| {
        Some(if name == target {
            (vec![shape[1], shape[0]], data)
        } else {
            (shape, data)
        })
    });
    let err =
        T5Model::<B>::from_weights(&relu_tied_config(), &weights, &Default::default()).unwrap_err();
    match &err {
        Error::ShapeMismatch {
            name,
            expected,
            found,
        } => {
            assert_eq!(name, target);
            assert_eq!(expected, &vec![32, 64]);
            assert_eq!(found, &vec![64, 32]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("tensor `{target}` has shape [64, 32], expected [32, 64]")
    );
}

#[test]
fn malformed_config_is_a_typed_error() {
    let bytes = std::fs::read(fixture_dir("relu-tied").join("model.safetensors")).unwrap();
    let config = std::fs::read_to_string(fixture_dir("relu-tied").join("config.json")).unwrap();
    let cases = [
        (
            config.replace("\"d_model\": 32,", ""),
            "missing required field `d_model`",
        ),
        (
            config.replace("\"num_heads\": 2", "\"num_heads\": \"two\""),
            "`num_heads`",
        ),
        (
            config.replace(
                "\"feed_forward_proj\": \"relu\"",
                "\"feed_forward_proj\": \"gated-magic\"",
            ),
            "`feed_forward_proj`",
        ),
        ("{\"d_model\": ".to_string(), "not valid JSON"),
    ];
    for (text, needle) in cases {
        assert_ne!(text, config, "the edit for {needle} must change the config");
        let files = ModelFiles::from_bytes(
            text.as_bytes(),
            vec![("model.safetensors".into(), bytes.clone())],
            None,
        )
        .unwrap();
        match T5Model::<B>::from_files(&files, &Default::default()) {
            Err(Error::MalformedConfig { file, message }) => {
                assert_eq!(file, "config.json");
                assert!(
                    message.contains(needle),
                    "{message} should mention {needle}"
                );
            }
            other => panic!("expected MalformedConfig for {needle}, got {other:?}"),
        }
    }
}

#[test]
fn bad_input_shapes_are_errors_not_panics() {
    let (model, _, _) = load("gelu-one-head");
    let device = Default::default();
    let ids = Tensor::<B, 2, Int>::from_ints([[5, 6, 1]], &device);
    let short_mask = Tensor::<B, 2, Int>::from_ints([[1, 1]], &device);
    assert!(matches!(
        model.encode(ids.clone(), short_mask, &NoHooks),
        Err(Error::InvalidInput(_))
    ));
    let states = Tensor::<B, 3>::zeros([2, 3, 16], &device);
    let mask = Tensor::<B, 2, Int>::ones([1, 3], &device);
    assert!(matches!(
        model.decode(ids, states, mask, &NoHooks),
        Err(Error::InvalidInput(_))
    ));
}

/// Which callback fired, and how often, per site.
#[derive(Default)]
struct CountingHooks {
    calls: RefCell<BTreeMap<(Site, &'static str), usize>>,
}

impl CountingHooks {
    fn record(&self, site: Site, kind: &'static str) {
        *self.calls.borrow_mut().entry((site, kind)).or_default() += 1;
    }
}

impl<Bk: Backend> Hooks<Bk> for CountingHooks {
    fn linear(&self, site: Site, input: &Tensor<Bk, 3>, output: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        assert_eq!(input.dims()[..2], output.dims()[..2], "{site:?}");
        self.record(site, "linear");
        output
    }
    fn norm(&self, site: Site, normalized: &Tensor<Bk, 3>, output: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        assert_eq!(normalized.dims(), output.dims(), "{site:?}");
        self.record(site, "norm");
        output
    }
    fn sublayer(&self, site: Site, input: &Tensor<Bk, 3>, output: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        assert_eq!(input.dims(), output.dims(), "{site:?}");
        self.record(site, "sublayer");
        output
    }
    fn attention(
        &self,
        site: Site,
        query: &Tensor<Bk, 4>,
        context: Tensor<Bk, 4>,
    ) -> Tensor<Bk, 4> {
        assert_eq!(query.dims(), context.dims(), "{site:?}");
        self.record(site, "attention");
        context
    }
}

fn hook_kind(point: Point) -> &'static str {
    match point {
        Point::AttnNorm
        | Point::CrossAttnNorm
        | Point::FfnNorm
        | Point::FinalNorm
        | Point::EmbeddingNorm => "norm",
        Point::AttnSublayer | Point::CrossAttnSublayer | Point::FfnSublayer => "sublayer",
        Point::Attention => "attention",
        _ => "linear",
    }
}

#[test]
fn hooks_fire_once_at_every_site() {
    for name in ["relu-tied", "gated-gelu-untied"] {
        let (model, files, reference) = load(name);
        let device = Default::default();
        let input_ids = int_tensor(&reference["input_ids"], &device);
        let mask = int_tensor(&reference["attention_mask"], &device);
        let labels = int_tensor(&reference["labels"], &device);

        let hooks = CountingHooks::default();
        let counted = model
            .forward_teacher_forced(input_ids.clone(), mask.clone(), labels.clone(), &hooks)
            .unwrap();
        let plain = model
            .forward_teacher_forced(input_ids, mask, labels, &NoHooks)
            .unwrap();
        assert_eq!(
            tensor_floats(counted),
            tensor_floats(plain),
            "{name}: identity hooks change nothing"
        );

        let config = model.config();
        let expected: BTreeMap<(Site, &'static str), usize> = all_sites(config)
            .into_iter()
            .map(|site| ((site, hook_kind(site.point)), 1))
            .collect();
        assert_eq!(*hooks.calls.borrow(), expected, "{name}");
        let gates = expected
            .keys()
            .filter(|(s, _)| s.point == Point::FfnGate)
            .count();
        let blocks = config.num_layers + config.num_decoder_layers;
        assert_eq!(
            gates,
            if config.feed_forward().gated {
                blocks
            } else {
                0
            }
        );

        // Every site's name is a module of the checkpoint.
        for site in all_sites(config) {
            let path = site_name(site, config);
            let exists = match site.point {
                Point::AttnSublayer
                | Point::CrossAttnSublayer
                | Point::FfnSublayer
                | Point::Attention => files
                    .weights
                    .names()
                    .iter()
                    .any(|key| key.starts_with(&format!("{path}."))),
                _ => files.weights.contains(&format!("{path}.weight")),
            };
            assert!(exists, "{name}: {site:?} → {path} is not in the checkpoint");
        }
    }
}

/// Zeroes one site's output: shows the backbone uses what hooks return.
struct ZeroAt(Site);

impl<Bk: Backend> Hooks<Bk> for ZeroAt {
    fn linear(&self, site: Site, _input: &Tensor<Bk, 3>, output: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        if site == self.0 {
            output.zeros_like()
        } else {
            output
        }
    }
    fn sublayer(&self, site: Site, _input: &Tensor<Bk, 3>, output: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        if site == self.0 {
            output.zeros_like()
        } else {
            output
        }
    }
}

#[test]
fn hook_outputs_replace_the_backbone_values() {
    let (model, _, reference) = load("gated-gelu-untied");
    let device = Default::default();
    let input_ids = int_tensor(&reference["input_ids"], &device);
    let mask = int_tensor(&reference["attention_mask"], &device);
    let labels = int_tensor(&reference["labels"], &device);
    let plain = tensor_floats(
        model
            .forward_teacher_forced(input_ids.clone(), mask.clone(), labels.clone(), &NoHooks)
            .unwrap(),
    );
    for site in [
        Site::new(Stack::Encoder, 1, Point::Value),
        Site::new(Stack::Decoder, 2, Point::CrossOutput),
        Site::new(Stack::Decoder, 0, Point::FfnGate),
        Site::new(Stack::Decoder, 1, Point::AttnSublayer),
    ] {
        let hooked = tensor_floats(
            model
                .forward_teacher_forced(
                    input_ids.clone(),
                    mask.clone(),
                    labels.clone(),
                    &ZeroAt(site),
                )
                .unwrap(),
        );
        assert!(
            max_abs_diff(&hooked, &plain) > 1e-3,
            "{site:?} had no effect"
        );
    }
}

#[test]
fn random_init_has_the_configured_parameter_count() {
    for name in ["relu-tied", "gated-gelu-untied"] {
        let config = T5Config::from_json(
            &std::fs::read_to_string(fixture_dir(name).join("config.json")).unwrap(),
        )
        .unwrap();
        let model = T5Model::<B>::init_random(&config, &Default::default()).unwrap();
        assert_eq!(model.num_params(), config.num_params(), "{name}");
        let reference = read_json(&fixture_dir(name).join("reference.json"));
        assert_eq!(
            config.num_params() as u64,
            reference["num_parameters"].as_u64().unwrap()
        );
    }
}

#[test]
fn gradients_reach_every_kind_of_weight_on_autodiff() {
    type A = burn::backend::Autodiff<B>;
    let files = ModelFiles::from_dir(&fixture_dir("gated-gelu-untied")).unwrap();
    let reference = read_json(&fixture_dir("gated-gelu-untied").join("reference.json"));
    let model = T5Model::<A>::from_files(&files, &Default::default()).unwrap();
    let device = Default::default();
    let tensor = |key: &str| {
        let v = &reference[key];
        let shape = shape_of(v);
        Tensor::<A, 2, Int>::from_data(TensorData::new(ints(v), [shape[0], shape[1]]), &device)
    };
    let logits = model
        .forward_teacher_forced(
            tensor("input_ids"),
            tensor("attention_mask"),
            tensor("labels"),
            &NoHooks,
        )
        .unwrap();
    let loss = seq2seq_loss(logits, tensor("labels"));
    let value = loss.clone().into_scalar();
    assert!((value - reference["loss"].as_f64().unwrap() as f32).abs() <= TOLERANCE);
    let grads = loss.backward();

    let encoder = &model.encoder.block[0];
    let decoder = &model.decoder.block[2];
    let norm_of = |g: Option<Tensor<B, 2>>, what: &str| {
        let g = g.unwrap_or_else(|| panic!("{what}: no gradient"));
        let n: f32 = g.abs().sum().into_scalar();
        assert!(n > 0.0, "{what}: zero gradient");
    };
    norm_of(model.shared.weight.grad(&grads), "shared");
    norm_of(
        model.lm_head.as_ref().unwrap().weight.grad(&grads),
        "lm_head",
    );
    norm_of(encoder.self_attention.q.weight.grad(&grads), "encoder q");
    let bias = encoder
        .self_attention
        .relative_attention_bias
        .as_ref()
        .unwrap();
    norm_of(bias.embedding.weight.grad(&grads), "encoder relative bias");
    norm_of(
        decoder
            .cross_attention
            .as_ref()
            .unwrap()
            .k
            .weight
            .grad(&grads),
        "decoder cross k",
    );
    norm_of(
        decoder.ffn.wi_1.as_ref().unwrap().weight.grad(&grads),
        "decoder wi_1",
    );
    let norm_grad = model
        .decoder
        .final_layer_norm
        .weight
        .grad(&grads)
        .map(|g| g.unsqueeze::<2>());
    norm_of(norm_grad, "decoder final norm");
}

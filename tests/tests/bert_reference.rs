//! The BERT-family backbone against transformers: tiny random checkpoints saved
//! by `tests/fixtures/generate_bert.py` with the outputs transformers computed
//! for a padded batch. Also the typed loading errors, hook sites and site names.

use std::path::PathBuf;
use std::sync::Mutex;

use bipeft_core::backbone::bert::{BertConfig, BertForSequenceClassification, BertModel, Pooling};
use bipeft_core::backbone::{Hooks, NoHooks, Point, Site, Stack};
use bipeft_core::loader::{ModelFiles, Weights};
use bipeft_core::Error;
use burn::backend::Autodiff;
use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use serde_json::Value;

type B = burn::backend::Flex<f32>;

const TOLERANCE: f32 = 1e-4;

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/bert")
        .join(name)
}

struct Fixture {
    config: BertConfig,
    weights: Weights,
    reference: Value,
}

fn fixture(name: &str) -> Fixture {
    let dir = fixture_dir(name);
    let files = ModelFiles::from_dir(&dir).unwrap();
    let reference = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    Fixture {
        config: BertConfig::from_json(&files.config_json).unwrap(),
        weights: files.weights,
        reference: serde_json::from_str(&reference).unwrap(),
    }
}

/// A `[batch, seq]` integer field of reference.json as a tensor.
fn ints(
    value: &Value,
    device: &<B as burn::tensor::backend::BackendTypes>::Device,
) -> Tensor<B, 2, Int> {
    let rows: Vec<Vec<i64>> = serde_json::from_value(value.clone()).unwrap();
    let (batch, seq) = (rows.len(), rows[0].len());
    let flat: Vec<i64> = rows.into_iter().flatten().collect();
    Tensor::from_data(TensorData::new(flat, [batch, seq]), device)
}

/// All numbers of a nested JSON array, in order.
fn flatten(value: &Value, out: &mut Vec<f32>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        Value::Number(n) => out.push(n.as_f64().unwrap() as f32),
        other => panic!("not a number: {other}"),
    }
}

/// Max |found - expected| over all values; the shapes must agree.
fn max_abs_diff<const D: usize>(found: Tensor<B, D>, expected: &Value) -> f32 {
    let mut want = Vec::new();
    flatten(expected, &mut want);
    let got: Vec<f32> = found.into_data().to_vec().unwrap();
    assert_eq!(
        got.len(),
        want.len(),
        "output size differs from the reference"
    );
    got.iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

struct Inputs {
    ids: Tensor<B, 2, Int>,
    types: Tensor<B, 2, Int>,
    mask: Tensor<B, 2, Int>,
}

fn inputs(reference: &Value) -> Inputs {
    let device = Default::default();
    Inputs {
        ids: ints(&reference["input_ids"], &device),
        types: ints(&reference["token_type_ids"], &device),
        mask: ints(&reference["attention_mask"], &device),
    }
}

/// Runs the backbone of a fixture and compares its last hidden state.
fn check_hidden_states(name: &str, expected_prefix: &str) {
    let f = fixture(name);
    let device = Default::default();
    let model = BertModel::<B>::from_weights(&f.config, &f.weights, &device).unwrap();
    assert_eq!(model.prefix, expected_prefix, "{name}");
    let expected_params = f.reference["num_parameters_no_pooler"].as_u64().unwrap() as usize;
    assert_eq!(
        f.config.param_count(),
        expected_params,
        "{name}: config parameter count"
    );
    assert_eq!(
        model.num_params(),
        expected_params,
        "{name}: module parameter count"
    );

    let x = inputs(&f.reference);
    model.check_input(&x.ids, &x.types, &x.mask).unwrap();
    let hidden = model.forward(x.ids, x.types, x.mask, &NoHooks);
    let diff = max_abs_diff(hidden, &f.reference["last_hidden_state"]);
    println!("{name}: max |hidden - transformers| = {diff:.3e}");
    assert!(diff <= TOLERANCE, "{name}: max abs diff {diff}");
}

#[test]
fn bert_gelu_two_heads_matches_transformers() {
    check_hidden_states("bert_gelu_2h", "");
}

#[test]
fn bert_gelu_new_three_heads_three_layers_matches_transformers() {
    check_hidden_states("bert_gelu_new_3h", "");
}

#[test]
fn bert_relu_one_head_with_unused_pooler_matches_transformers() {
    check_hidden_states("bert_relu_1h", "");
}

#[test]
fn roberta_matches_transformers() {
    check_hidden_states("roberta_gelu_2h", "");
}

#[test]
fn xlm_roberta_matches_transformers() {
    check_hidden_states("xlm_roberta_1l", "");
}

#[test]
fn classifier_backbones_match_transformers() {
    check_hidden_states("bert_cls3", "bert.");
    check_hidden_states("roberta_regression", "roberta.");
}

fn check_logits(name: &str, num_labels: usize) {
    let f = fixture(name);
    assert_eq!(f.config.num_labels, Some(num_labels));
    let device = Default::default();
    let model = BertForSequenceClassification::<B>::from_weights(
        &f.config,
        num_labels,
        Pooling::Cls,
        &f.weights,
        &device,
    )
    .unwrap();
    let x = inputs(&f.reference);
    let logits = model.forward(x.ids, x.types, x.mask, &NoHooks);
    assert_eq!(logits.dims(), [2, num_labels]);
    let diff = max_abs_diff(logits, &f.reference["logits"]);
    println!("{name}: max |logits - transformers| = {diff:.3e}");
    assert!(diff <= TOLERANCE, "{name}: max abs diff {diff}");
}

#[test]
fn bert_sequence_classification_logits_match_transformers() {
    check_logits("bert_cls3", 3);
}

#[test]
fn roberta_regression_logits_match_transformers() {
    check_logits("roberta_regression", 1);
}

#[test]
fn a_head_the_checkpoint_lacks_is_fresh_and_trainable() {
    // bert_gelu_2h is a bare BertModel: no pooler, no classifier.
    type AD = Autodiff<B>;
    let f = fixture("bert_gelu_2h");
    let device = Default::default();
    let model = BertForSequenceClassification::<AD>::from_weights(
        &f.config,
        4,
        Pooling::Mean,
        &f.weights,
        &device,
    )
    .unwrap();
    assert!(model.head.pooler.is_none());
    assert_eq!(
        model.head.classifier.weight.dims(),
        [f.config.hidden_size, 4]
    );
    let reference = &f.reference;
    let logits = model.forward(
        Tensor::from_inner(ints(&reference["input_ids"], &device)),
        Tensor::from_inner(ints(&reference["token_type_ids"], &device)),
        Tensor::from_inner(ints(&reference["attention_mask"], &device)),
        &NoHooks,
    );
    assert_eq!(logits.dims(), [2, 4]);
    let grads = logits.powf_scalar(2.0).sum().backward();
    let grad = model
        .head
        .classifier
        .weight
        .grad(&grads)
        .expect("the classifier gets a gradient");
    assert!(grad.abs().sum().into_scalar() > 0.0);

    // A classifier of another width than asked for is an error, not a silent re-init.
    let f = fixture("bert_cls3");
    let err = BertForSequenceClassification::<B>::from_weights(
        &f.config,
        2,
        Pooling::Cls,
        &f.weights,
        &device,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { ref name, .. } if name == "classifier.weight"),
        "{err:?}"
    );
}

/// The fixture's checkpoint bytes with one tensor renamed in the header.
fn checkpoint_with_renamed(name: &str, from: &str, to: &str) -> Weights {
    let bytes = std::fs::read(fixture_dir(name).join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let entry = header.remove(from).unwrap();
    header.insert(to.into(), entry);
    let mut new_header = serde_json::to_vec(&header).unwrap();
    // safetensors pads its header with spaces to 8-byte alignment.
    while !new_header.len().is_multiple_of(8) {
        new_header.push(b' ');
    }
    let mut out = (new_header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&new_header);
    out.extend_from_slice(&bytes[8 + header_len..]);
    Weights::from_bytes(vec![("model.safetensors".into(), out)]).unwrap()
}

#[test]
fn a_missing_tensor_is_named() {
    let f = fixture("bert_cls3");
    let key = "bert.encoder.layer.1.attention.self.key.weight";
    let weights = checkpoint_with_renamed(
        "bert_cls3",
        key,
        "bert.encoder.layer.1.attention.self.kex.weight",
    );
    let err = BertModel::<B>::from_weights(&f.config, &weights, &Default::default()).unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { ref name } if name == key),
        "{err:?}"
    );
    assert!(err.to_string().contains(key));
}

#[test]
fn a_tensor_of_the_wrong_shape_is_named() {
    let dir = fixture_dir("bert_gelu_2h");
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    json["intermediate_size"] = 65.into();
    let config = BertConfig::from_json(&json.to_string()).unwrap();
    let weights = Weights::from_dir(&dir).unwrap();
    let err = BertModel::<B>::from_weights(&config, &weights, &Default::default()).unwrap_err();
    match err {
        Error::ShapeMismatch {
            name,
            expected,
            found,
        } => {
            assert_eq!(name, "encoder.layer.0.intermediate.dense.weight");
            assert_eq!((expected, found), (vec![65, 32], vec![64, 32]));
        }
        other => panic!("expected a shape mismatch, got {other:?}"),
    }
}

#[test]
fn a_malformed_config_names_the_field() {
    let text = std::fs::read_to_string(fixture_dir("bert_gelu_2h").join("config.json")).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    json["num_attention_heads"] = "two".into();
    let err = BertConfig::from_json(&json.to_string()).unwrap_err();
    assert!(matches!(err, Error::MalformedConfig { .. }), "{err:?}");
    assert!(err.to_string().contains("`num_attention_heads`"), "{err}");
    json["num_attention_heads"] = 5.into();
    let err = BertConfig::from_json(&json.to_string()).unwrap_err();
    assert!(
        err.to_string()
            .contains("`hidden_size` (32) must be a multiple"),
        "{err}"
    );
}

#[test]
fn over_long_or_mismatched_inputs_are_rejected_before_the_forward_pass() {
    let f = fixture("bert_gelu_2h");
    let device = Default::default();
    let model = BertModel::<B>::from_weights(&f.config, &f.weights, &device).unwrap();
    let long = Tensor::<B, 2, Int>::zeros([1, f.config.max_position_embeddings + 1], &device);
    let err = model.check_input(&long, &long, &long).unwrap_err();
    assert!(
        err.to_string().contains("exceeds the model's maximum"),
        "{err}"
    );
    let short = Tensor::<B, 2, Int>::zeros([1, 3], &device);
    let err = model.check_input(&long, &short, &long).unwrap_err();
    assert!(err.to_string().contains("token_type_ids"), "{err}");
    assert!(model.check_ids(&[1, 2, 96], &[0, 1, 1]).is_ok());
    assert!(model.check_ids(&[1, 97], &[0, 0]).is_err());
    assert!(model.check_ids(&[1, 2], &[0, 2]).is_err());
}

/// What a hook call saw.
#[derive(Clone)]
enum Seen {
    Linear {
        input: Tensor<B, 3>,
        output: Tensor<B, 3>,
    },
    Norm {
        normalized: Tensor<B, 3>,
        output: Tensor<B, 3>,
    },
    Sublayer {
        input: Tensor<B, 3>,
        output: Tensor<B, 3>,
    },
    Attention {
        query: Tensor<B, 4>,
        context: Tensor<B, 4>,
    },
}

/// Records every call, and optionally doubles the output at one site (not a
/// constant shift, which the LayerNorm after a sub-layer would cancel).
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(Site, Seen)>>,
    double: Option<Site>,
}

impl Recorder {
    fn record(&self, site: Site, seen: Seen) {
        self.calls.lock().unwrap().push((site, seen));
    }
    fn maybe_double<const D: usize>(&self, site: Site, output: Tensor<B, D>) -> Tensor<B, D> {
        if self.double == Some(site) {
            output * 2.0
        } else {
            output
        }
    }
    fn seen(&self, site: Site) -> Seen {
        let calls = self.calls.lock().unwrap();
        calls.iter().find(|(s, _)| *s == site).unwrap().1.clone()
    }
}

impl Hooks<B> for Recorder {
    fn linear(&self, site: Site, input: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        self.record(
            site,
            Seen::Linear {
                input: input.clone(),
                output: output.clone(),
            },
        );
        self.maybe_double(site, output)
    }
    fn norm(&self, site: Site, normalized: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        self.record(
            site,
            Seen::Norm {
                normalized: normalized.clone(),
                output: output.clone(),
            },
        );
        self.maybe_double(site, output)
    }
    fn sublayer(&self, site: Site, input: &Tensor<B, 3>, output: Tensor<B, 3>) -> Tensor<B, 3> {
        self.record(
            site,
            Seen::Sublayer {
                input: input.clone(),
                output: output.clone(),
            },
        );
        self.maybe_double(site, output)
    }
    fn attention(&self, site: Site, query: &Tensor<B, 4>, context: Tensor<B, 4>) -> Tensor<B, 4> {
        self.record(
            site,
            Seen::Attention {
                query: query.clone(),
                context: context.clone(),
            },
        );
        self.maybe_double(site, context)
    }
}

fn assert_close<const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>, what: &str) {
    assert_within(a, b, 1e-5, what);
}

fn assert_within<const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>, tolerance: f32, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes");
    let diff: f32 = (a - b).abs().max().into_scalar();
    assert!(diff <= tolerance, "{what}: differs by {diff}");
}

#[test]
fn hooks_fire_once_at_every_site_with_the_documented_tensors() {
    let f = fixture("bert_gelu_new_3h");
    let device = Default::default();
    let model = BertModel::<B>::from_weights(&f.config, &f.weights, &device).unwrap();
    let x = inputs(&f.reference);
    let recorder = Recorder::default();
    let hooked = model.forward(x.ids.clone(), x.types.clone(), x.mask.clone(), &recorder);
    let plain = model.forward(x.ids.clone(), x.types.clone(), x.mask.clone(), &NoHooks);
    assert_close(hooked, plain, "identity hooks change nothing");

    // Every site exactly once, in the order of the forward pass, with the right call.
    let calls = recorder.calls.lock().unwrap().clone();
    let order: Vec<Site> = calls.iter().map(|(s, _)| *s).collect();
    assert_eq!(order, model.sites());
    assert_eq!(order.len(), 1 + 3 * 11);
    for (site, seen) in &calls {
        let kind_ok = match site.point {
            Point::Query
            | Point::Key
            | Point::Value
            | Point::AttnOutput
            | Point::FfnIn
            | Point::FfnOut => {
                matches!(seen, Seen::Linear { .. })
            }
            Point::AttnNorm | Point::FfnNorm | Point::EmbeddingNorm => {
                matches!(seen, Seen::Norm { .. })
            }
            Point::AttnSublayer | Point::FfnSublayer => matches!(seen, Seen::Sublayer { .. }),
            Point::Attention => matches!(seen, Seen::Attention { .. }),
            _ => false,
        };
        assert!(kind_ok, "{site:?} called the wrong hook");
        assert_eq!(site.stack, Stack::Encoder);
    }
    drop(calls);

    let s = |layer, point| Site::new(Stack::Encoder, layer, point);
    let (heads, d_head) = (f.config.num_attention_heads, f.config.head_size());
    let [batch, seq] = x.ids.dims();

    // EmbeddingNorm: the normalised value has zero mean, unit variance, and
    // the output is it under the learned scale and shift.
    let Seen::Norm { normalized, output } = recorder.seen(s(0, Point::EmbeddingNorm)) else {
        unreachable!()
    };
    let (var, mean) = normalized.clone().var_mean_bias(2);
    assert_close(
        mean,
        Tensor::zeros([batch, seq, 1], &device),
        "normalised mean",
    );
    // var / (var + eps) with eps = 1e-5 here.
    assert_within(
        var,
        Tensor::ones([batch, seq, 1], &device),
        1e-3,
        "normalised variance",
    );
    let norm = &model.embeddings.norm;
    let rebuilt =
        normalized * norm.weight.val().unsqueeze::<3>() + norm.bias.val().unsqueeze::<3>();
    assert_close(rebuilt, output.clone(), "embedding LayerNorm output");
    let embedded = output;

    for layer in 0..3 {
        // The attention sub-layer starts from the hidden state entering the block…
        let Seen::Linear {
            input: q_in,
            output: q,
        } = recorder.seen(s(layer, Point::Query))
        else {
            unreachable!()
        };
        let Seen::Sublayer {
            input: attn_in,
            output: attn_out,
        } = recorder.seen(s(layer, Point::AttnSublayer))
        else {
            unreachable!()
        };
        assert_close(q_in, attn_in.clone(), "query input = block input");
        if layer == 0 {
            assert_close(
                attn_in,
                embedded.clone(),
                "block 0 input = embedding output",
            );
        }
        // …the attention hook sees the query split into heads and scaled…
        let Seen::Attention { query, context } = recorder.seen(s(layer, Point::Attention)) else {
            unreachable!()
        };
        let q_heads =
            q.reshape([batch, seq, heads, d_head]).swap_dims(1, 2) / (d_head as f64).sqrt();
        assert_close(query, q_heads, "scaled per-head query");
        assert_eq!(context.dims(), [batch, heads, seq, d_head]);
        // …and the sub-layer's output is attention.output.dense's, before the residual.
        let Seen::Linear {
            input: merged,
            output: dense,
        } = recorder.seen(s(layer, Point::AttnOutput))
        else {
            unreachable!()
        };
        assert_close(
            merged,
            context
                .swap_dims(1, 2)
                .reshape([batch, seq, heads * d_head]),
            "merged heads",
        );
        assert_close(attn_out, dense, "attention sub-layer output = output dense");

        // The FFN sub-layer starts from the attention block's output and ends at output.dense.
        let Seen::Norm {
            output: attn_block, ..
        } = recorder.seen(s(layer, Point::AttnNorm))
        else {
            unreachable!()
        };
        let Seen::Sublayer {
            input: ffn_in,
            output: ffn_out,
        } = recorder.seen(s(layer, Point::FfnSublayer))
        else {
            unreachable!()
        };
        assert_close(ffn_in, attn_block, "FFN input = attention block output");
        let Seen::Linear { output: wo, .. } = recorder.seen(s(layer, Point::FfnOut)) else {
            unreachable!()
        };
        assert_close(ffn_out, wo, "FFN sub-layer output = output dense");
        let Seen::Linear { output: wi, .. } = recorder.seen(s(layer, Point::FfnIn)) else {
            unreachable!()
        };
        assert_eq!(wi.dims(), [batch, seq, f.config.intermediate_size]);
    }

    // What a hook returns is what the model uses, at every kind of site.
    let plain: Vec<f32> = model
        .forward(x.ids.clone(), x.types.clone(), x.mask.clone(), &NoHooks)
        .into_data()
        .to_vec()
        .unwrap();
    for point in [
        Point::Value,
        Point::Attention,
        Point::FfnSublayer,
        Point::AttnNorm,
        Point::EmbeddingNorm,
    ] {
        let layer = if point == Point::EmbeddingNorm { 0 } else { 1 };
        let doubling = Recorder {
            double: Some(s(layer, point)),
            ..Default::default()
        };
        let changed: Vec<f32> = model
            .forward(x.ids.clone(), x.types.clone(), x.mask.clone(), &doubling)
            .into_data()
            .to_vec()
            .unwrap();
        let diff = plain
            .iter()
            .zip(&changed)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff > 1e-3, "a hook's output at {point:?} was ignored");
    }
}

#[test]
fn site_names_follow_the_checkpoint_keys() {
    let f = fixture("bert_cls3");
    let model = BertModel::<B>::from_weights(&f.config, &f.weights, &Default::default()).unwrap();
    let s = |layer, point| Site::new(Stack::Encoder, layer, point);
    let name = |site| model.site_name(site).unwrap();
    assert_eq!(
        name(s(1, Point::Query)),
        "bert.encoder.layer.1.attention.self.query"
    );
    assert_eq!(
        name(s(0, Point::AttnOutput)),
        "bert.encoder.layer.0.attention.output.dense"
    );
    assert_eq!(
        name(s(1, Point::FfnIn)),
        "bert.encoder.layer.1.intermediate.dense"
    );
    assert_eq!(
        name(s(1, Point::FfnOut)),
        "bert.encoder.layer.1.output.dense"
    );
    assert_eq!(
        name(s(0, Point::AttnNorm)),
        "bert.encoder.layer.0.attention.output.LayerNorm"
    );
    assert_eq!(
        name(s(0, Point::FfnNorm)),
        "bert.encoder.layer.0.output.LayerNorm"
    );
    assert_eq!(
        name(s(0, Point::EmbeddingNorm)),
        "bert.embeddings.LayerNorm"
    );
    // Every linear and norm site names a module whose weight the checkpoint holds.
    for site in model.sites() {
        let module = name(site);
        let is_param_module = !matches!(
            site.point,
            Point::Attention | Point::AttnSublayer | Point::FfnSublayer
        );
        if is_param_module {
            assert!(f.weights.contains(&format!("{module}.weight")), "{module}");
        }
    }
    // Sites this model does not have.
    assert_eq!(model.site_name(s(2, Point::Query)), None);
    assert_eq!(model.site_name(s(0, Point::CrossQuery)), None);
    assert_eq!(
        model.site_name(Site::new(Stack::Decoder, 0, Point::Query)),
        None
    );
}

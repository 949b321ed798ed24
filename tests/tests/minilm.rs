//! The real all-MiniLM-L6-v2 against transformers: token ids of the model's own
//! tokenizer and mean-pooled sentence embeddings
//! (`tests/fixtures/bert/minilm_reference.json`, from `generate_bert.py`).
//!
//! The model is not in the repository. It is read from `$BIPEFT_MINILM_DIR`, else
//! `$HOME/.cache/bipeft/all-MiniLM-L6-v2` (a directory holding the model's
//! `config.json`, `model.safetensors` and `tokenizer.json` directly). Without it
//! this test fails and says how to get it.

use std::path::PathBuf;

use bipeft_core::backbone::bert::{pool, BertConfig, BertModel, Pooling};
use bipeft_core::backbone::NoHooks;
use bipeft_core::loader::ModelFiles;
use burn::tensor::{Int, Tensor, TensorData};
use serde_json::Value;

type B = burn::backend::Flex<f32>;

#[test]
fn minilm_ids_and_sentence_embeddings_match_transformers() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/bert/minilm_reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let files = ModelFiles::from_dir(&bipeft_tests::minilm_dir()).unwrap();
    let config = BertConfig::from_json(&files.config_json).unwrap();
    let tokenizer = files.require_tokenizer().unwrap();
    let device = Default::default();
    let model = BertModel::<B>::from_weights(&config, &files.weights, &device).unwrap();

    // Token ids, padding and truncation off, special tokens added.
    let sentences: Vec<&str> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let expected_ids: Vec<Vec<u32>> =
        serde_json::from_value(reference["input_ids"].clone()).unwrap();
    let ids: Vec<Vec<u32>> = sentences
        .iter()
        .map(|s| tokenizer.encode(s).unwrap())
        .collect();
    assert_eq!(ids, expected_ids);

    // One right-padded batch, as transformers ran it.
    let seq = ids.iter().map(Vec::len).max().unwrap();
    let batch = ids.len();
    let pad = config.pad_token_id.unwrap() as i64;
    let mut flat_ids = Vec::with_capacity(batch * seq);
    let mut flat_mask = Vec::with_capacity(batch * seq);
    for row in &ids {
        model.check_ids(row, &[]).unwrap();
        flat_ids.extend(row.iter().map(|&id| id as i64));
        flat_ids.extend(std::iter::repeat_n(pad, seq - row.len()));
        flat_mask.extend(std::iter::repeat_n(1i64, row.len()));
        flat_mask.extend(std::iter::repeat_n(0i64, seq - row.len()));
    }
    let input_ids =
        Tensor::<B, 2, Int>::from_data(TensorData::new(flat_ids, [batch, seq]), &device);
    let attention_mask =
        Tensor::<B, 2, Int>::from_data(TensorData::new(flat_mask, [batch, seq]), &device);
    let token_types = Tensor::<B, 2, Int>::zeros([batch, seq], &device);
    model
        .check_input(&input_ids, &token_types, &attention_mask)
        .unwrap();

    let hidden = model.forward(input_ids, token_types, attention_mask.clone(), &NoHooks);
    let embeddings = pool(hidden, attention_mask, Pooling::Mean);
    assert_eq!(embeddings.dims(), [batch, config.hidden_size]);

    let expected: Vec<Vec<f32>> = serde_json::from_value(reference["embeddings"].clone()).unwrap();
    let found: Vec<f32> = embeddings.into_data().to_vec().unwrap();
    let diff = found
        .iter()
        .zip(expected.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!(
        "all-MiniLM-L6-v2: max |embedding - transformers| = {diff:.3e} over {batch} sentences"
    );
    assert!(diff <= 1e-4, "max abs diff {diff}");
}

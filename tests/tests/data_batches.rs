//! Tokenisation, truncation, batching, the tokenised-data cache and burn
//! tensors, with two tiny word-level tokenizers shaped like the real ones:
//! BERT's template (`[CLS] a [SEP] b [SEP]`, type ids 0/1) and T5's (`a </s>`).

use std::collections::HashSet;
use std::path::Path;

use bipeft_core::data::cache;
use bipeft_core::data::summary::length_stats;
use bipeft_core::data::{
    collate, plan_batches, tokenize_task, Batch, BatchOptions, BatchTargets, Batches, Benchmark,
    EncodedTarget, ExampleRef, Formulation, LabelWords, Part, SplitOptions, Splits, TaskData,
    TaskSource, TensorTargets, TokenizeOptions,
};
use bipeft_core::loader::TextTokenizer;
use serde_json::{json, Value};

type B = burn::backend::Flex<f32>;

const WORDS: &[&str] = &[
    "a",
    "the",
    "man",
    "is",
    "playing",
    "flute",
    "large",
    "plane",
    "taking",
    "off",
    "an",
    "air",
    "good",
    "bad",
    "film",
    "very",
    ".",
    ",",
    "positive",
    "negative",
    "sst2",
    "sentence",
    ":",
    "stsb",
    "sentence1",
    "sentence2",
    "3",
    "8",
    "5",
    "0",
    "4",
    "2",
];

fn template(special: &[(&str, u32)], single: Value, pair: Value) -> Value {
    let tokens: serde_json::Map<String, Value> = special
        .iter()
        .map(|(t, id)| (t.to_string(), json!({"id": t, "ids": [id], "tokens": [t]})))
        .collect();
    json!({"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": tokens})
}

/// A word-level tokenizer: specials first, then `WORDS`.
fn tokenizer(specials: &[&str], post_processor: Value) -> TextTokenizer {
    let mut vocab = serde_json::Map::new();
    for (i, t) in specials.iter().chain(WORDS).enumerate() {
        vocab.insert(t.to_string(), json!(i));
    }
    let added: Vec<Value> = specials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    let unk = if specials.contains(&"[UNK]") {
        "[UNK]"
    } else {
        "<unk>"
    };
    let json = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": post_processor,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": unk},
    });
    TextTokenizer::from_bytes(json.to_string().as_bytes()).unwrap()
}

/// `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3, then words from 4.
fn bert_like() -> TextTokenizer {
    let s = |id: &str, t: u32| json!({"SpecialToken": {"id": id, "type_id": t}});
    let q = |id: &str, t: u32| json!({"Sequence": {"id": id, "type_id": t}});
    tokenizer(
        &["[PAD]", "[UNK]", "[CLS]", "[SEP]"],
        template(
            &[("[CLS]", 2), ("[SEP]", 3)],
            json!([s("[CLS]", 0), q("A", 0), s("[SEP]", 0)]),
            json!([
                s("[CLS]", 0),
                q("A", 0),
                s("[SEP]", 0),
                q("B", 1),
                s("[SEP]", 1)
            ]),
        ),
    )
}

/// `<pad>`=0 `</s>`=1 `<unk>`=2, then words from 3.
fn t5_like() -> TextTokenizer {
    let s = |id: &str| json!({"SpecialToken": {"id": id, "type_id": 0}});
    let q = |id: &str| json!({"Sequence": {"id": id, "type_id": 0}});
    tokenizer(
        &["<pad>", "</s>", "<unk>"],
        template(
            &[("</s>", 1)],
            json!([q("A"), s("</s>")]),
            json!([q("A"), s("</s>"), q("B"), s("</s>")]),
        ),
    )
}

fn word(tokenizer: &TextTokenizer, w: &str) -> u32 {
    tokenizer.token_to_id(w).unwrap()
}

fn sst2(sentences: &[(&str, u8)]) -> TaskData {
    let mut text = String::from("sentence\tlabel\n");
    for (s, l) in sentences {
        text.push_str(&format!("{s}\t{l}\n"));
    }
    TaskData::from_files(
        &TaskSource::Benchmark(Benchmark::Sst2),
        vec![
            (Part::Train, "train.tsv".into(), text.clone().into_bytes()),
            (Part::Dev, "dev.tsv".into(), text.into_bytes()),
        ],
    )
    .unwrap()
}

fn stsb() -> TaskData {
    let header =
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
    let rows = "0\tg\tf\ty\t0\tn\tn\tA plane is taking off.\tAn air plane is taking off.\t5.000\n\
                1\tg\tf\ty\t1\tn\tn\tA man is playing a large flute.\tA man is playing a flute.\t3.800\n";
    let text = format!("{header}{rows}").into_bytes();
    TaskData::from_files(
        &TaskSource::Benchmark(Benchmark::Stsb),
        vec![
            (Part::Train, "train.tsv".into(), text.clone()),
            (Part::Dev, "dev.tsv".into(), text),
        ],
    )
    .unwrap()
}

fn all(data: &TaskData, part: Part) -> Vec<ExampleRef> {
    (0..data.examples(part).len())
        .map(|index| ExampleRef { part, index })
        .collect()
}

#[test]
fn encoder_pairs_have_type_ids_and_scores() {
    let tok = bert_like();
    let data = stsb();
    let options = TokenizeOptions::new(&data.info, Formulation::Encoder);
    assert_eq!(options.max_length, 128);
    let tokenized = tokenize_task(&data, &tok, &options).unwrap();
    let item = &tokenized.part(Part::Train).unwrap().items[0];
    let w = |s: &str| word(&tok, s);
    assert_eq!(
        item.input_ids,
        vec![
            2,
            w("a"),
            w("plane"),
            w("is"),
            w("taking"),
            w("off"),
            w("."),
            3,
            w("an"),
            w("air"),
            w("plane"),
            w("is"),
            w("taking"),
            w("off"),
            w("."),
            3
        ]
    );
    assert_eq!(item.type_ids, [vec![0; 8], vec![1; 8]].concat());
    assert_eq!(item.target, EncodedTarget::Score(5.0));
    assert!(!item.truncated());
}

#[test]
fn truncation_is_longest_first_and_counted() {
    let tok = bert_like();
    let data = stsb();
    let mut options = TokenizeOptions::new(&data.info, Formulation::Encoder);
    options.max_length = 9;
    let tokenized = tokenize_task(&data, &tok, &options).unwrap();
    let item = &tokenized.part(Part::Train).unwrap().items[1];
    // "a man is playing a large flute ." (8) + "a man is playing a flute ." (7) + 3 specials = 18.
    assert_eq!(item.full_length, 18);
    assert_eq!(item.input_ids.len(), 9);
    let w = |s: &str| word(&tok, s);
    // 6 content tokens kept, 3 from each side (the longer side loses more).
    assert_eq!(
        item.input_ids,
        vec![
            2,
            w("a"),
            w("man"),
            w("is"),
            3,
            w("a"),
            w("man"),
            w("is"),
            3
        ]
    );
    assert_eq!(item.type_ids, vec![0, 0, 0, 0, 0, 1, 1, 1, 1]);
    let stats = length_stats(&tokenized, &all(&data, Part::Train));
    assert_eq!((stats.inputs, stats.truncated, stats.max), (2, 2, 18));
}

#[test]
fn text_to_text_sources_and_targets() {
    let tok = t5_like();
    let data = stsb();
    let tokenized = tokenize_task(
        &data,
        &tok,
        &TokenizeOptions::new(&data.info, Formulation::TextToText(LabelWords::Names)),
    )
    .unwrap();
    let item = &tokenized.part(Part::Dev).unwrap().items[1];
    let w = |s: &str| word(&tok, s);
    // "stsb sentence1: A man ..." and target "3.8" (rounded to 0.2) + </s>.
    assert_eq!(
        &item.input_ids[..4],
        &[w("stsb"), w("sentence1"), w(":"), w("a")]
    );
    assert_eq!(*item.input_ids.last().unwrap(), 1);
    assert!(item.type_ids.is_empty());
    assert_eq!(
        item.target,
        EncodedTarget::Tokens(vec![w("3"), w("."), w("8"), 1])
    );
    assert_eq!(tokenized.pad_id, 0);
}

#[test]
fn batches_pad_per_batch_and_cover_every_item_once() {
    let tok = bert_like();
    let sentences = [
        ("good", 1),
        ("a very very very good film .", 1),
        ("bad film", 0),
        ("a bad , bad film", 0),
        ("good good", 1),
    ];
    let data = sst2(&sentences);
    let tokenized = tokenize_task(
        &data,
        &tok,
        &TokenizeOptions::new(&data.info, Formulation::Encoder),
    )
    .unwrap();
    let split = all(&data, Part::Train);

    let in_order = BatchOptions {
        batch_size: 2,
        shuffle: None,
        bucket_by_length: false,
        first_item_only: false,
    };
    let batches: Vec<Batch> = Batches::new(&tokenized, &split, &in_order)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(batches.len(), 3);
    let first = &batches[0];
    assert_eq!((first.batch, first.seq_len), (2, 9)); // [CLS] a very very very good film . [SEP]
    assert_eq!(
        &first.input_ids[..9],
        &[2, i64::from(word(&tok, "good")), 3, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(&first.attention_mask[..9], &[1, 1, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(first.attention_mask[9..].iter().sum::<i64>(), 9);
    assert_eq!(first.targets, BatchTargets::Classes(vec![1, 1]));
    assert_eq!(batches[2].batch, 1);

    let bucketed = BatchOptions::train(2, 5);
    let plan = plan_batches(&tokenized, &split, &bucketed).unwrap();
    assert_eq!(plan, plan_batches(&tokenized, &split, &bucketed).unwrap());
    let seen: HashSet<ExampleRef> = plan.iter().flatten().map(|i| i.example).collect();
    assert_eq!(seen.len(), 5);
    assert_eq!(plan.iter().map(Vec::len).sum::<usize>(), 5);
    // Sorted by length inside the window: each batch's rows are no longer than the next batch's.
    let eval = plan_batches(&tokenized, &split, &BatchOptions::eval(2)).unwrap();
    let lengths: Vec<usize> = eval
        .iter()
        .flatten()
        .map(|i| {
            tokenized.part(Part::Train).unwrap().items[i.item]
                .input_ids
                .len()
        })
        .collect();
    assert!(lengths.windows(2).all(|w| w[0] <= w[1]), "{lengths:?}");
    assert!(plan_batches(&tokenized, &split, &BatchOptions::eval(0)).is_err());
}

#[test]
fn record_text_to_text_keeps_one_item_per_query_for_evaluation() {
    let tok = t5_like();
    let line = r#"{"passage": {"text": "Bob met the man.", "entities": [{"start": 0, "end": 2}, {"start": 12, "end": 14}]}, "qas": [{"query": "@placeholder is good", "answers": [{"start": 0, "end": 2, "text": "Bob"}, {"start": 12, "end": 14, "text": "man"}], "idx": 0}], "idx": 0}"#;
    let data = TaskData::from_files(
        &TaskSource::Benchmark(Benchmark::Record),
        vec![(Part::Dev, "val.jsonl".into(), line.as_bytes().to_vec())],
    )
    .unwrap();
    let options = TokenizeOptions::new(&data.info, Formulation::TextToText(LabelWords::Names));
    assert_eq!(options.max_length, 512);
    let tokenized = tokenize_task(&data, &tok, &options).unwrap();
    assert_eq!(tokenized.part(Part::Dev).unwrap().items.len(), 2);
    let split = all(&data, Part::Dev);
    let mut eval = BatchOptions::eval(8);
    eval.first_item_only = true;
    let plan = plan_batches(&tokenized, &split, &eval).unwrap();
    assert_eq!(plan.iter().flatten().count(), 1);
    let encoder = tokenize_task(
        &data,
        &bert_like(),
        &TokenizeOptions::new(&data.info, Formulation::Encoder),
    )
    .unwrap();
    let items = &encoder.part(Part::Dev).unwrap().items;
    assert_eq!(items.len(), 2); // one per candidate entity: Bob, man
    assert_eq!(items[1].target, EncodedTarget::Class(1));
}

#[test]
fn tensors_have_the_batch_shapes() {
    let tok = t5_like();
    let data = sst2(&[("good film", 1), ("a bad film .", 0)]);
    let tokenized = tokenize_task(
        &data,
        &tok,
        &TokenizeOptions::new(&data.info, Formulation::TextToText(LabelWords::Names)),
    )
    .unwrap();
    let items = plan_batches(&tokenized, &all(&data, Part::Train), &BatchOptions::eval(2)).unwrap();
    let batch = collate(&tokenized, &items[0]).unwrap();
    let device = Default::default();
    let tensors = batch.to_tensors::<B>(&device);
    assert_eq!(tensors.input_ids.dims(), [2, batch.seq_len]);
    assert_eq!(tensors.attention_mask.dims(), [2, batch.seq_len]);
    let ids: Vec<i64> = tensors
        .input_ids
        .into_data()
        .convert::<i64>()
        .to_vec()
        .unwrap();
    assert_eq!(ids, batch.input_ids);
    let TensorTargets::Tokens { ids, mask } = tensors.targets else {
        panic!("T5 targets are tokens")
    };
    assert_eq!(ids.dims(), [2, 2]); // "positive </s>" / "negative </s>"
    assert_eq!(
        mask.into_data().convert::<i64>().to_vec::<i64>().unwrap(),
        vec![1, 1, 1, 1]
    );

    let tokenized = tokenize_task(
        &data,
        &bert_like(),
        &TokenizeOptions::new(&data.info, Formulation::Encoder),
    )
    .unwrap();
    let batch = collate(
        &tokenized,
        &plan_batches(&tokenized, &all(&data, Part::Dev), &BatchOptions::eval(2)).unwrap()[0],
    )
    .unwrap();
    let tensors = batch.to_tensors::<B>(&device);
    let TensorTargets::Classes(classes) = tensors.targets else {
        panic!("encoder targets are classes")
    };
    let mut got: Vec<i64> = classes.into_data().convert::<i64>().to_vec().unwrap();
    got.sort();
    assert_eq!(got, vec![0, 1]);
}

#[test]
fn cache_round_trip_and_key() {
    let tok = bert_like();
    let data = stsb();
    let source = TaskSource::Benchmark(Benchmark::Stsb);
    let options = TokenizeOptions::new(&data.info, Formulation::Encoder);
    let tokenized = tokenize_task(&data, &tok, &options).unwrap();
    let bytes = cache::to_bytes(&tokenized);
    assert_eq!(cache::from_bytes(&bytes).unwrap(), tokenized);
    let t2t = tokenize_task(
        &data,
        &t5_like(),
        &TokenizeOptions::new(&data.info, Formulation::TextToText(LabelWords::Indices)),
    )
    .unwrap();
    assert_eq!(cache::from_bytes(&cache::to_bytes(&t2t)).unwrap(), t2t);

    assert!(cache::from_bytes(&bytes[..bytes.len() - 3])
        .unwrap_err()
        .to_string()
        .contains("truncated"));
    assert!(cache::from_bytes(b"nope").is_err());

    let key = cache::cache_key(&source, &data, &tok, &options).unwrap();
    assert_eq!(key.len(), 64);
    assert_eq!(
        key,
        cache::cache_key(&source, &data, &tok, &options).unwrap()
    );
    let mut longer = options;
    longer.max_length = 64;
    assert_ne!(
        key,
        cache::cache_key(&source, &data, &tok, &longer).unwrap()
    );
    assert_ne!(
        key,
        cache::cache_key(&source, &data, &t5_like(), &options).unwrap()
    );
    let other = sst2(&[("good", 1), ("bad", 0)]);
    assert_ne!(
        key,
        cache::cache_key(
            &TaskSource::Benchmark(Benchmark::Sst2),
            &other,
            &tok,
            &options
        )
        .unwrap()
    );
}

#[test]
fn real_sst2_tokenises_every_example_once() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/glue/SST-2"
    ));
    let data = bipeft_core::data::load_task(&TaskSource::Benchmark(Benchmark::Sst2), dir).unwrap();
    let splits = Splits::new(&data, &SplitOptions::default()).unwrap();
    let tokenized = tokenize_task(
        &data,
        &bert_like(),
        &TokenizeOptions::new(&data.info, Formulation::Encoder),
    )
    .unwrap();
    assert_eq!(tokenized.part(Part::Train).unwrap().items.len(), 67349);
    let batches =
        plan_batches(&tokenized, &splits.search_arch, &BatchOptions::train(32, 1)).unwrap();
    assert_eq!(
        batches.iter().map(Vec::len).sum::<usize>(),
        splits.search_arch.len()
    );
    assert_eq!(batches.len(), splits.search_arch.len().div_ceil(32));
}

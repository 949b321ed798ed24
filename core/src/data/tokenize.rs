//! Tokenising a task with the model's own tokenizer, once per file: every
//! example of every part becomes one or more [`Encoded`] items (ids, type ids,
//! target) in example order. Texts are encoded in large batches
//! (`encode_batch_fast`, parallel natively); the few inputs longer than the
//! maximum length are encoded again with the tokenizer's own truncation
//! (longest-first for pairs, special tokens kept), so truncation is exactly
//! what Hugging Face does and the untruncated length is still known.

use tokenizers::{EncodeInput, TruncationParams};

use crate::data::encoder::{encoder_inputs, EncoderTarget};
use crate::data::load::TaskData;
use crate::data::task::{Part, TaskInfo};
use crate::data::text2text::{text_pairs, LabelWords};
use crate::error::{Error, Result};
use crate::loader::TextTokenizer;

/// How a task is put to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Formulation {
    /// T5: source and target texts.
    TextToText(LabelWords),
    /// Encoder models: text (pair) and a class index or score.
    Encoder,
}

impl Formulation {
    /// The formulation for a `config.json` `model_type`: `t5` (and `mt5`)
    /// generate text, every other model type gets a head.
    pub fn for_model_type(model_type: &str) -> Self {
        match model_type {
            "t5" | "mt5" => Formulation::TextToText(LabelWords::Names),
            _ => Formulation::Encoder,
        }
    }
}

/// Tokenisation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenizeOptions {
    pub formulation: Formulation,
    /// Inputs longer than this many tokens are truncated.
    pub max_length: usize,
    /// Text-to-text targets longer than this are truncated.
    pub max_target_length: usize,
}

impl TokenizeOptions {
    /// The task's default maximum length (128, 256 for RTE and SuperGLUE,
    /// 512 for ReCoRD); targets up to 128 tokens, as in the reference.
    pub fn new(info: &TaskInfo, formulation: Formulation) -> Self {
        TokenizeOptions {
            formulation,
            max_length: info.max_length,
            max_target_length: 128,
        }
    }
}

/// What an item is trained towards.
#[derive(Debug, Clone, PartialEq)]
pub enum EncodedTarget {
    Class(u32),
    Score(f32),
    /// Target token ids (T5), with the tokenizer's end-of-sequence token.
    Tokens(Vec<u32>),
}

/// One tokenised input.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// Index of the example in its part.
    pub example: u32,
    /// Which input of the example (ReCoRD's candidate or answer), else 0.
    pub choice: u32,
    pub input_ids: Vec<u32>,
    /// Token type ids; empty when they are all 0 (single texts, T5).
    pub type_ids: Vec<u32>,
    /// Length before truncation: larger than `input_ids.len()` when truncated.
    pub full_length: u32,
    pub target: EncodedTarget,
}

impl Encoded {
    pub fn truncated(&self) -> bool {
        self.full_length as usize > self.input_ids.len()
    }
}

/// The items of one part, in example order.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedPart {
    pub part: Part,
    pub items: Vec<Encoded>,
    /// `starts[e]..starts[e + 1]` are the items of example `e`.
    starts: Vec<usize>,
}

impl EncodedPart {
    /// Builds the part; `examples` is the number of examples it was made from.
    pub fn new(part: Part, items: Vec<Encoded>, examples: usize) -> Result<Self> {
        let mut starts = vec![0usize; examples + 1];
        for (position, item) in items.iter().enumerate() {
            let example = item.example as usize;
            if example >= examples || (position > 0 && item.example < items[position - 1].example) {
                return Err(Error::InvalidInput(format!(
                    "tokenised {} items are not in example order (item {position}, example {example})",
                    part.name()
                )));
            }
            starts[example + 1] = position + 1;
        }
        for e in 1..=examples {
            starts[e] = starts[e].max(starts[e - 1]);
        }
        Ok(EncodedPart {
            part,
            items,
            starts,
        })
    }

    /// Number of examples the part was made from.
    pub fn examples(&self) -> usize {
        self.starts.len() - 1
    }

    /// Item positions of example `e` (empty when out of range).
    pub fn items_of(&self, example: usize) -> std::ops::Range<usize> {
        match (self.starts.get(example), self.starts.get(example + 1)) {
            (Some(&start), Some(&end)) => start..end,
            _ => 0..0,
        }
    }
}

/// A whole task, tokenised.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenizedTask {
    pub options: TokenizeOptions,
    /// The id padding fills batches with.
    pub pad_id: u32,
    pub parts: Vec<EncodedPart>,
}

impl TokenizedTask {
    pub fn part(&self, part: Part) -> Option<&EncodedPart> {
        self.parts.iter().find(|p| p.part == part)
    }
}

/// Inputs of one part before tokenisation.
struct Pending {
    example: u32,
    choice: u32,
    text_a: String,
    text_b: Option<String>,
    target: PendingTarget,
}

enum PendingTarget {
    Class(usize),
    Score(f64),
    Text(String),
}

/// Tokenises every part of `data`.
pub fn tokenize_task(
    data: &TaskData,
    tokenizer: &TextTokenizer,
    options: &TokenizeOptions,
) -> Result<TokenizedTask> {
    let parts = data
        .parts
        .iter()
        .map(|part| {
            let pending = formulate(&data.info, &part.examples, options.formulation);
            let items = encode_pending(tokenizer, pending, options)?;
            EncodedPart::new(part.part, items, part.examples.len())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TokenizedTask {
        options: *options,
        pad_id: pad_id(tokenizer),
        parts,
    })
}

fn formulate(
    info: &TaskInfo,
    examples: &[crate::data::Example],
    formulation: Formulation,
) -> Vec<Pending> {
    let mut pending = Vec::with_capacity(examples.len());
    for (index, example) in examples.iter().enumerate() {
        let example_index = index as u32;
        match formulation {
            Formulation::TextToText(words) => pending.extend(
                text_pairs(info, words, example)
                    .into_iter()
                    .map(|pair| Pending {
                        example: example_index,
                        choice: pair.choice as u32,
                        text_a: pair.source,
                        text_b: None,
                        target: PendingTarget::Text(pair.target),
                    }),
            ),
            Formulation::Encoder => pending.extend(encoder_inputs(info, example).into_iter().map(
                |input| Pending {
                    example: example_index,
                    choice: input.choice as u32,
                    text_a: input.text_a,
                    text_b: input.text_b,
                    target: match input.target {
                        EncoderTarget::Class(c) => PendingTarget::Class(c),
                        EncoderTarget::Score(s) => PendingTarget::Score(s),
                    },
                },
            )),
        }
    }
    pending
}

fn encode_pending(
    tokenizer: &TextTokenizer,
    pending: Vec<Pending>,
    options: &TokenizeOptions,
) -> Result<Vec<Encoded>> {
    let inputs: Vec<(&str, Option<&str>)> = pending
        .iter()
        .map(|p| (p.text_a.as_str(), p.text_b.as_deref()))
        .collect();
    let encoded_inputs = encode_texts(tokenizer, &inputs, options.max_length)?;
    let targets: Vec<(&str, Option<&str>)> = pending
        .iter()
        .filter_map(|p| match &p.target {
            PendingTarget::Text(t) => Some((t.as_str(), None)),
            _ => None,
        })
        .collect();
    let mut encoded_targets =
        encode_texts(tokenizer, &targets, options.max_target_length)?.into_iter();
    let mut items = Vec::with_capacity(pending.len());
    for (p, tokens) in pending.iter().zip(encoded_inputs) {
        let target = match &p.target {
            PendingTarget::Class(c) => EncodedTarget::Class(*c as u32),
            PendingTarget::Score(s) => EncodedTarget::Score(*s as f32),
            PendingTarget::Text(_) => {
                EncodedTarget::Tokens(encoded_targets.next().map(|t| t.ids).unwrap_or_default())
            }
        };
        items.push(Encoded {
            example: p.example,
            choice: p.choice,
            type_ids: if tokens.type_ids.iter().all(|&t| t == 0) {
                Vec::new()
            } else {
                tokens.type_ids
            },
            input_ids: tokens.ids,
            full_length: tokens.full_length as u32,
            target,
        });
    }
    Ok(items)
}

/// One text (or pair) tokenised, truncated to the maximum length.
struct Tokens {
    ids: Vec<u32>,
    type_ids: Vec<u32>,
    /// Length before truncation.
    full_length: usize,
}

/// Each text or pair, tokenised.
fn encode_texts<'s>(
    tokenizer: &TextTokenizer,
    inputs: &[(&'s str, Option<&'s str>)],
    max_length: usize,
) -> Result<Vec<Tokens>> {
    fn to_input<'s>(&(a, b): &(&'s str, Option<&'s str>)) -> EncodeInput<'s> {
        match b {
            Some(b) => (a, b).into(),
            None => a.into(),
        }
    }
    let tokenizer_error = |e: tokenizers::Error| Error::Tokenizer(e.to_string());
    // Chunks keep the batch of `Encoding`s (offsets, tokens) from holding a
    // whole large file at once.
    const CHUNK: usize = 16_384;
    let mut out = Vec::with_capacity(inputs.len());
    let mut long = Vec::new();
    for chunk in inputs.chunks(CHUNK) {
        let encodings = tokenizer
            .inner()
            .encode_batch_fast(chunk.iter().map(to_input).collect(), true)
            .map_err(tokenizer_error)?;
        for encoding in encodings {
            if encoding.len() > max_length {
                long.push(out.len());
            }
            out.push(Tokens {
                ids: encoding.get_ids().to_vec(),
                type_ids: encoding.get_type_ids().to_vec(),
                full_length: encoding.len(),
            });
        }
    }
    if !long.is_empty() {
        let mut truncating = tokenizer.inner().clone();
        truncating
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(tokenizer_error)?;
        let encodings = truncating
            .encode_batch_fast(long.iter().map(|&i| to_input(&inputs[i])).collect(), true)
            .map_err(|e| Error::Tokenizer(format!("truncating to {max_length} tokens: {e}")))?;
        for (&i, encoding) in long.iter().zip(encodings) {
            out[i].ids = encoding.get_ids().to_vec();
            out[i].type_ids = encoding.get_type_ids().to_vec();
        }
    }
    Ok(out)
}

/// The tokenizer's padding id: its `<pad>` / `[PAD]` token, else 0.
pub fn pad_id(tokenizer: &TextTokenizer) -> u32 {
    ["<pad>", "[PAD]", "<PAD>"]
        .iter()
        .find_map(|t| tokenizer.token_to_id(t))
        .unwrap_or(0)
}

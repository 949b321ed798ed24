//! Batches of a split: which items go together (seeded shuffle, optional
//! length bucketing), then padding each batch to its own longest item. A
//! batch is plain vectors (`[batch, seq]` flattened, row-major), so it can be
//! built anywhere and moved to any burn device with [`Batch::to_tensors`].

use crate::data::rng::SplitMix64;
use crate::data::splits::ExampleRef;
use crate::data::tokenize::{EncodedTarget, TokenizedTask};
use crate::error::{Error, Result};

/// How to batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOptions {
    pub batch_size: usize,
    /// Shuffle items with this seed (training); `None` keeps split order.
    pub shuffle: Option<u64>,
    /// Put items of similar length together, so padding is short: items are
    /// sorted by length within windows of 50 batches (the windows and the
    /// batches are still shuffled when `shuffle` is set).
    pub bucket_by_length: bool,
    /// Only the first item of each example: for evaluating text-to-text
    /// ReCoRD, whose examples have one item per gold answer.
    pub first_item_only: bool,
}

impl BatchOptions {
    /// Training batches: shuffled with `seed`, bucketed.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        BatchOptions {
            batch_size,
            shuffle: Some(seed),
            bucket_by_length: true,
            first_item_only: false,
        }
    }

    /// Evaluation batches: in order, bucketed.
    pub fn eval(batch_size: usize) -> Self {
        BatchOptions {
            batch_size,
            shuffle: None,
            bucket_by_length: true,
            first_item_only: false,
        }
    }
}

/// Which item a batch row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef {
    pub example: ExampleRef,
    /// Position of the item in its part's `items`.
    pub item: usize,
    /// The item's `choice` (ReCoRD candidate or answer), else 0.
    pub choice: u32,
}

/// What a batch is trained towards.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchTargets {
    /// `[batch]` class indices.
    Classes(Vec<i64>),
    /// `[batch]` regression targets.
    Scores(Vec<f32>),
    /// `[batch, target_len]` target ids padded with the pad id, and their mask.
    Tokens {
        ids: Vec<i64>,
        mask: Vec<i64>,
        target_len: usize,
    },
}

/// A padded batch.
///
/// # Shapes
/// - `input_ids`, `token_type_ids`, `attention_mask`: `[batch, seq_len]`, row-major
/// - targets: see [`BatchTargets`]
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub batch: usize,
    pub seq_len: usize,
    pub input_ids: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    /// 1 on tokens, 0 on padding.
    pub attention_mask: Vec<i64>,
    pub targets: BatchTargets,
    /// The item of each row, for scoring grouped tasks and reading predictions back.
    pub items: Vec<ItemRef>,
}

/// The batches of `split` (references into `tokenized`'s parts), as item lists.
pub fn plan_batches(
    tokenized: &TokenizedTask,
    split: &[ExampleRef],
    options: &BatchOptions,
) -> Result<Vec<Vec<ItemRef>>> {
    if options.batch_size == 0 {
        return Err(Error::InvalidInput("batch size must be at least 1".into()));
    }
    let mut items = Vec::with_capacity(split.len());
    let mut lengths = Vec::with_capacity(split.len());
    for &example in split {
        let part = tokenized.part(example.part).ok_or_else(|| {
            Error::InvalidInput(format!(
                "the tokenised task has no {} part",
                example.part.name()
            ))
        })?;
        if example.index >= part.examples() {
            return Err(Error::InvalidInput(format!(
                "example {} is outside the tokenised {} part ({} examples)",
                example.index,
                example.part.name(),
                part.examples()
            )));
        }
        let mut range = part.items_of(example.index);
        if options.first_item_only {
            range.end = range.end.min(range.start + 1);
        }
        for item in range {
            items.push(ItemRef {
                example,
                item,
                choice: part.items[item].choice,
            });
            lengths.push(part.items[item].input_ids.len());
        }
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut rng = options
        .shuffle
        .map(|seed| SplitMix64::for_stream(seed, "batches"));
    if let Some(rng) = rng.as_mut() {
        rng.shuffle(&mut order);
    }
    if options.bucket_by_length {
        let window = options.batch_size.saturating_mul(50);
        for chunk in order.chunks_mut(window) {
            chunk.sort_by_key(|&i| lengths[i]);
        }
    }
    let mut batches: Vec<Vec<ItemRef>> = order
        .chunks(options.batch_size)
        .map(|chunk| chunk.iter().map(|&i| items[i]).collect())
        .collect();
    if let Some(rng) = rng.as_mut() {
        rng.shuffle(&mut batches);
    }
    Ok(batches)
}

impl Batch {
    /// The batch padded (after its rows' ends) to `length` tokens, when that
    /// is longer: one input shape for every step. The padding is masked out,
    /// so the loss is the same.
    pub fn padded_to(mut self, length: usize, pad_id: u32) -> Batch {
        if length <= self.seq_len {
            return self;
        }
        let seq_len = self.seq_len;
        let widen = |values: &[i64], fill: i64| {
            values
                .chunks_exact(seq_len)
                .flat_map(|row| {
                    row.iter()
                        .copied()
                        .chain(std::iter::repeat_n(fill, length - row.len()))
                })
                .collect::<Vec<_>>()
        };
        self.input_ids = widen(&self.input_ids, i64::from(pad_id));
        self.token_type_ids = widen(&self.token_type_ids, 0);
        self.attention_mask = widen(&self.attention_mask, 0);
        self.seq_len = length;
        self
    }
}

/// Pads the items into one batch.
pub fn collate(tokenized: &TokenizedTask, items: &[ItemRef]) -> Result<Batch> {
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let encoded = tokenized
            .part(item.example.part)
            .and_then(|p| p.items.get(item.item))
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "no tokenised item {} in {}",
                    item.item,
                    item.example.part.name()
                ))
            })?;
        rows.push(encoded);
    }
    let batch = rows.len();
    let seq_len = rows.iter().map(|r| r.input_ids.len()).max().unwrap_or(0);
    let pad = i64::from(tokenized.pad_id);
    let mut input_ids = vec![pad; batch * seq_len];
    let mut token_type_ids = vec![0i64; batch * seq_len];
    let mut attention_mask = vec![0i64; batch * seq_len];
    for (r, row) in rows.iter().enumerate() {
        let base = r * seq_len;
        for (t, &id) in row.input_ids.iter().enumerate() {
            input_ids[base + t] = i64::from(id);
            attention_mask[base + t] = 1;
        }
        for (t, &ty) in row.type_ids.iter().enumerate() {
            token_type_ids[base + t] = i64::from(ty);
        }
    }
    let targets = match rows.first().map(|r| &r.target) {
        Some(EncodedTarget::Score(_)) => BatchTargets::Scores(
            rows.iter()
                .map(|r| match r.target {
                    EncodedTarget::Score(s) => Ok(s),
                    _ => Err(mixed_targets()),
                })
                .collect::<Result<_>>()?,
        ),
        Some(EncodedTarget::Tokens(_)) => {
            let target_len = rows
                .iter()
                .map(|r| match &r.target {
                    EncodedTarget::Tokens(t) => t.len(),
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            let mut ids = vec![pad; batch * target_len];
            let mut mask = vec![0i64; batch * target_len];
            for (r, row) in rows.iter().enumerate() {
                let EncodedTarget::Tokens(target) = &row.target else {
                    return Err(mixed_targets());
                };
                for (t, &id) in target.iter().enumerate() {
                    ids[r * target_len + t] = i64::from(id);
                    mask[r * target_len + t] = 1;
                }
            }
            BatchTargets::Tokens {
                ids,
                mask,
                target_len,
            }
        }
        _ => BatchTargets::Classes(
            rows.iter()
                .map(|r| match r.target {
                    EncodedTarget::Class(c) => Ok(i64::from(c)),
                    _ => Err(mixed_targets()),
                })
                .collect::<Result<_>>()?,
        ),
    };
    Ok(Batch {
        batch,
        seq_len,
        input_ids,
        token_type_ids,
        attention_mask,
        targets,
        items: items.to_vec(),
    })
}

fn mixed_targets() -> Error {
    Error::InvalidInput("a batch mixes items of different target kinds".into())
}

/// The padded batches of a split, built one at a time.
pub struct Batches<'a> {
    tokenized: &'a TokenizedTask,
    plan: std::vec::IntoIter<Vec<ItemRef>>,
}

impl<'a> Batches<'a> {
    pub fn new(
        tokenized: &'a TokenizedTask,
        split: &[ExampleRef],
        options: &BatchOptions,
    ) -> Result<Self> {
        let plan = plan_batches(tokenized, split, options)?;
        Ok(Batches {
            tokenized,
            plan: plan.into_iter(),
        })
    }

    /// Batches left.
    pub fn remaining(&self) -> usize {
        self.plan.len()
    }
}

impl Iterator for Batches<'_> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.plan
            .next()
            .map(|items| collate(self.tokenized, &items))
    }
}

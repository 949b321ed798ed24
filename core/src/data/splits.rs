//! The split protocol of S3Delta / Compacter that BIPEFT follows (docs/algorithm.md
//! §7), and the search's split of the training data into two halves: one to
//! train PEFT weights, one to train architecture weights.
//!
//! - Small sets (CoLA, MRPC, STS-B, RTE, WNLI, SuperGLUE except ReCoRD): the
//!   training file is the training set; the original dev set is shuffled and
//!   split 50/50 into validation (first half, rounded down) and test.
//! - Large sets (SST-2, MNLI, QNLI, QQP, ReCoRD): 2,000 shuffled training
//!   examples are held out as validation; the original dev set is the test set
//!   (MNLI: matched; mismatched is reported as `test_mismatched`).
//! - A large-set task whose training file cannot spare 2,000 examples (fewer
//!   than twice that) falls back to the small-set protocol, with a note.
//!
//! Examples of one group (a MultiRC question, a ReCoRD query) stay together,
//! so their group metrics see whole groups. Shuffles use [`SplitMix64`] with a
//! stream per purpose, so one seed gives one split everywhere.

use crate::data::load::TaskData;
use crate::data::rng::SplitMix64;
use crate::data::task::{Part, Protocol};
use crate::data::DataError;
use crate::error::Result;

/// Examples held out of training as validation under the large-set protocol.
pub const LARGE_VALIDATION_SIZE: usize = 2_000;

/// Options of the split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitOptions {
    pub seed: u64,
    /// Keep at most this many training examples (a seeded subset), after the
    /// protocol has taken its validation set.
    pub max_train_examples: Option<usize>,
    /// Hold out this many training examples as validation and test on the
    /// whole dev set, whatever the task's size (the large-set protocol with
    /// another validation size). For a small task whose dev set is too small
    /// to halve into a test set people can read differences from.
    pub validation_from_train: Option<usize>,
}

impl Default for SplitOptions {
    fn default() -> Self {
        // 42 is the reference code's seed.
        SplitOptions {
            seed: 42,
            max_train_examples: None,
            validation_from_train: None,
        }
    }
}

/// Where an example lives: a part of the task and an index into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExampleRef {
    pub part: Part,
    pub index: usize,
}

/// The named splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitName {
    Train,
    SearchWeights,
    SearchArch,
    Validation,
    Test,
    TestMismatched,
}

impl SplitName {
    pub const ALL: [SplitName; 6] = [
        SplitName::Train,
        SplitName::SearchWeights,
        SplitName::SearchArch,
        SplitName::Validation,
        SplitName::Test,
        SplitName::TestMismatched,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::SearchWeights => "search_weights",
            SplitName::SearchArch => "search_arch",
            SplitName::Validation => "validation",
            SplitName::Test => "test",
            SplitName::TestMismatched => "test_mismatched",
        }
    }
}

/// A task's splits, as references into its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// The protocol that was applied (after any fallback).
    pub protocol: Protocol,
    pub train: Vec<ExampleRef>,
    /// The search's half of `train` for PEFT weights.
    pub search_weights: Vec<ExampleRef>,
    /// The search's half of `train` for architecture weights.
    pub search_arch: Vec<ExampleRef>,
    pub validation: Vec<ExampleRef>,
    pub test: Vec<ExampleRef>,
    /// MNLI's mismatched dev set; empty for other tasks.
    pub test_mismatched: Vec<ExampleRef>,
    /// What the protocol did that a user should know (fallbacks, subsets).
    pub notes: Vec<String>,
}

impl Splits {
    pub fn get(&self, name: SplitName) -> &[ExampleRef] {
        match name {
            SplitName::Train => &self.train,
            SplitName::SearchWeights => &self.search_weights,
            SplitName::SearchArch => &self.search_arch,
            SplitName::Validation => &self.validation,
            SplitName::Test => &self.test,
            SplitName::TestMismatched => &self.test_mismatched,
        }
    }

    /// The splits that have examples (`test_mismatched` only for MNLI), in order.
    pub fn names(&self) -> Vec<SplitName> {
        SplitName::ALL
            .into_iter()
            .filter(|&n| n != SplitName::TestMismatched || !self.test_mismatched.is_empty())
            .collect()
    }

    /// Applies the task's protocol to its data.
    pub fn new(data: &TaskData, options: &SplitOptions) -> Result<Self> {
        let units = |part: Part| group_units(data, part);
        let train_units = units(Part::Train);
        let dev_units = units(Part::Dev);
        let mut notes = Vec::new();
        let mut protocol = data.info.protocol;
        let mut validation_size = LARGE_VALIDATION_SIZE;
        if let Some(n) = options.validation_from_train {
            if n == 0 || n >= count(&train_units) {
                return Err(DataError::InvalidOption(format!(
                    "{}: validation_from_train is {n}, but it must be at least 1 and below the {} training examples",
                    data.info.name,
                    count(&train_units)
                ))
                .into());
            }
            if dev_units.is_empty() {
                return Err(DataError::InvalidOption(format!(
                    "{}: validation_from_train tests on the dev set, and the task has none",
                    data.info.name
                ))
                .into());
            }
            notes.push(format!(
                "validation_from_train: {n} training examples are held out as validation; the whole dev set ({}) is the test set",
                count(&dev_units)
            ));
            protocol = Protocol::Large;
            validation_size = n;
        } else if protocol == Protocol::Large && count(&train_units) < 2 * LARGE_VALIDATION_SIZE {
            notes.push(format!(
                "the training set has {} examples, too few to hold out {LARGE_VALIDATION_SIZE} as validation; \
                 the small-set protocol is used instead (the dev set is split 50/50 into validation and test)",
                count(&train_units)
            ));
            protocol = Protocol::Small;
        }
        if matches!(protocol, Protocol::Small) && dev_units.len() < 2 {
            return Err(DataError::InvalidOption(format!(
                "{}: the dev set has {} example(s), too few to split into validation and test",
                data.info.name,
                count(&dev_units)
            ))
            .into());
        }
        let (mut train, validation, test) = match protocol {
            Protocol::Small => {
                let shuffled = shuffled(dev_units, options.seed, "dev");
                let half = shuffled.len() / 2;
                (
                    train_units,
                    shuffled[..half].to_vec(),
                    shuffled[half..].to_vec(),
                )
            }
            Protocol::Large => {
                let shuffled = shuffled(train_units, options.seed, "train");
                let (validation, train) = take_examples(&shuffled, validation_size);
                (sorted(train), validation, dev_units)
            }
            Protocol::Given => (train_units, dev_units, units(Part::Test)),
            Protocol::TrainOnly => {
                let shuffled = shuffled(train_units, options.seed, "train");
                let tenth = (count(&shuffled) / 10).max(1);
                let (validation, rest) = take_examples(&shuffled, tenth);
                let (test, train) = take_examples(&rest, tenth);
                notes.push(format!(
                    "no dev file: {} training examples are held out as validation and {} as test",
                    count(&validation),
                    count(&test)
                ));
                (sorted(train), validation, test)
            }
        };
        if train.is_empty() {
            return Err(DataError::InvalidOption(format!(
                "{}: no training examples are left",
                data.info.name
            ))
            .into());
        }
        if let Some(max) = options.max_train_examples {
            if count(&train) > max {
                let before = count(&train);
                let (kept, _) = take_examples(&shuffled(train, options.seed, "subset"), max.max(1));
                train = sorted(kept);
                notes.push(format!(
                    "max_train_examples: a seeded subset of {} of the {before} training examples is used",
                    count(&train)
                ));
            }
        }
        let search = shuffled(train.clone(), options.seed, "search");
        let half = search.len().div_ceil(2);
        Ok(Splits {
            protocol,
            search_weights: flatten(&sorted(search[..half].to_vec())),
            search_arch: flatten(&sorted(search[half..].to_vec())),
            train: flatten(&train),
            validation: flatten(&validation),
            test: flatten(&test),
            test_mismatched: flatten(&units(Part::DevMismatched)),
            notes,
        })
    }
}

/// Examples that must stay together: consecutive examples of one group, or
/// one example where there is no group.
type Unit = Vec<ExampleRef>;

fn group_units(data: &TaskData, part: Part) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut last_group = None;
    for (index, example) in data.examples(part).iter().enumerate() {
        let reference = ExampleRef { part, index };
        let same_group = example.group.is_some() && example.group == last_group;
        match units.last_mut() {
            Some(unit) if same_group => unit.push(reference),
            _ => units.push(vec![reference]),
        }
        last_group = example.group;
    }
    units
}

fn count(units: &[Unit]) -> usize {
    units.iter().map(Vec::len).sum()
}

fn shuffled(mut units: Vec<Unit>, seed: u64, stream: &str) -> Vec<Unit> {
    SplitMix64::for_stream(seed, stream).shuffle(&mut units);
    units
}

/// The first units holding `n` examples (whole units, at least one), and the rest.
fn take_examples(units: &[Unit], n: usize) -> (Vec<Unit>, Vec<Unit>) {
    let mut taken = 0;
    let mut split_at = 0;
    for unit in units {
        if split_at > 0 && taken + unit.len() > n {
            break;
        }
        taken += unit.len();
        split_at += 1;
        if taken >= n {
            break;
        }
    }
    (units[..split_at].to_vec(), units[split_at..].to_vec())
}

/// Back to file order, which keeps a split's listing readable.
fn sorted(mut units: Vec<Unit>) -> Vec<Unit> {
    units.sort_by_key(|u| u.first().copied());
    units
}

fn flatten(units: &[Unit]) -> Vec<ExampleRef> {
    units.iter().flatten().copied().collect()
}

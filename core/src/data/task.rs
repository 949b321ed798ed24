//! The tasks bipeft knows by name (GLUE and SuperGLUE, as the paper and the
//! S3Delta / Compacter code name them) and what each one is: its files, its
//! label space, its split protocol, its default maximum length and its metrics.

use crate::data::DataError;
use crate::metrics::metric::Metric;

/// A GLUE or SuperGLUE task, named as on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Benchmark {
    Cola,
    Sst2,
    Mrpc,
    Stsb,
    Qqp,
    Mnli,
    Qnli,
    Rte,
    Wnli,
    BoolQ,
    Cb,
    Copa,
    MultiRc,
    Wic,
    Wsc,
    SuperGlueRte,
    Record,
}

/// Which split protocol a task follows (docs/algorithm.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The original dev set is split 50/50 into validation and test.
    Small,
    /// 2,000 training examples are held out as validation; the original dev
    /// set is the test set.
    Large,
    /// The user gave train, validation and test files: used as they are.
    Given,
    /// The user gave only a training file: 10 % validation, 10 % test held out.
    TrainOnly,
}

/// What a task predicts.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelSpace {
    /// One of these classes; an example's label is an index into the list.
    Classes(Vec<String>),
    /// A real number (STS-B's similarity score).
    Regression,
    /// A span of text: one of the example's candidates (ReCoRD's entities).
    Answers,
}

impl LabelSpace {
    /// Number of outputs of an encoder's head: classes, or 1 for regression
    /// and for scoring one candidate at a time.
    pub fn num_outputs(&self) -> usize {
        match self {
            LabelSpace::Classes(names) => names.len(),
            LabelSpace::Regression => 1,
            LabelSpace::Answers => 2,
        }
    }
}

/// The file layout a task is distributed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Tsv,
    Csv,
    Jsonl,
}

/// The distributed files of a task, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Train,
    Dev,
    /// MNLI's mismatched dev set.
    DevMismatched,
    /// A user's own test file.
    Test,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Dev => "dev",
            Part::DevMismatched => "dev_mismatched",
            Part::Test => "test",
        }
    }
}

impl Benchmark {
    pub const ALL: [Benchmark; 17] = [
        Benchmark::Cola,
        Benchmark::Sst2,
        Benchmark::Mrpc,
        Benchmark::Stsb,
        Benchmark::Qqp,
        Benchmark::Mnli,
        Benchmark::Qnli,
        Benchmark::Rte,
        Benchmark::Wnli,
        Benchmark::BoolQ,
        Benchmark::Cb,
        Benchmark::Copa,
        Benchmark::MultiRc,
        Benchmark::Wic,
        Benchmark::Wsc,
        Benchmark::SuperGlueRte,
        Benchmark::Record,
    ];

    /// The command-line name, which is also the T5 task prefix.
    pub fn name(self) -> &'static str {
        match self {
            Benchmark::Cola => "cola",
            Benchmark::Sst2 => "sst2",
            Benchmark::Mrpc => "mrpc",
            Benchmark::Stsb => "stsb",
            Benchmark::Qqp => "qqp",
            Benchmark::Mnli => "mnli",
            Benchmark::Qnli => "qnli",
            Benchmark::Rte => "rte",
            Benchmark::Wnli => "wnli",
            Benchmark::BoolQ => "superglue-boolq",
            Benchmark::Cb => "superglue-cb",
            Benchmark::Copa => "superglue-copa",
            Benchmark::MultiRc => "superglue-multirc",
            Benchmark::Wic => "superglue-wic",
            Benchmark::Wsc => "superglue-wsc",
            Benchmark::SuperGlueRte => "superglue-rte",
            Benchmark::Record => "superglue-record",
        }
    }

    /// The task of a command-line name (`sst2`, `superglue-cb`, …).
    pub fn from_name(name: &str) -> Result<Self, DataError> {
        Benchmark::ALL
            .into_iter()
            .find(|task| task.name() == name)
            .ok_or_else(|| DataError::UnknownTask {
                name: name.to_string(),
                known: Benchmark::ALL.map(Benchmark::name).join(", "),
            })
    }

    pub fn is_superglue(self) -> bool {
        matches!(
            self,
            Benchmark::BoolQ
                | Benchmark::Cb
                | Benchmark::Copa
                | Benchmark::MultiRc
                | Benchmark::Wic
                | Benchmark::Wsc
                | Benchmark::SuperGlueRte
                | Benchmark::Record
        )
    }

    pub fn format(self) -> FileFormat {
        if self.is_superglue() {
            FileFormat::Jsonl
        } else {
            FileFormat::Tsv
        }
    }

    /// The file name of a part, as distributed (`train.tsv`, `val.jsonl`,
    /// MNLI's `dev_matched.tsv`); `None` where the task has no such part.
    pub fn file_name(self, part: Part) -> Option<&'static str> {
        match (self.format(), part, self) {
            (_, Part::Test, _) => None,
            (_, Part::DevMismatched, Benchmark::Mnli) => Some("dev_mismatched.tsv"),
            (_, Part::DevMismatched, _) => None,
            (_, Part::Dev, Benchmark::Mnli) => Some("dev_matched.tsv"),
            (FileFormat::Jsonl, Part::Train, _) => Some("train.jsonl"),
            (FileFormat::Jsonl, Part::Dev, _) => Some("val.jsonl"),
            (_, Part::Train, _) => Some("train.tsv"),
            (_, Part::Dev, _) => Some("dev.tsv"),
        }
    }

    /// The parts a task is distributed with (the test files carry no labels
    /// and are not read).
    pub fn parts(self) -> &'static [Part] {
        match self {
            Benchmark::Mnli => &[Part::Train, Part::Dev, Part::DevMismatched],
            _ => &[Part::Train, Part::Dev],
        }
    }

    pub fn protocol(self) -> Protocol {
        match self {
            Benchmark::Sst2
            | Benchmark::Mnli
            | Benchmark::Qnli
            | Benchmark::Qqp
            | Benchmark::Record => Protocol::Large,
            _ => Protocol::Small,
        }
    }

    /// The reference's maximum source length: 128, 256 for RTE and SuperGLUE,
    /// 512 for ReCoRD.
    pub fn max_length(self) -> usize {
        match self {
            Benchmark::Record => 512,
            Benchmark::Rte => 256,
            task if task.is_superglue() => 256,
            _ => 128,
        }
    }

    /// The classes in label-index order. Indices follow the distributed
    /// files (and the `datasets` library): CoLA/SST-2/MRPC/QQP/WNLI `0`/`1`,
    /// MNLI entailment/neutral/contradiction, BoolQ/WiC/WSC/MultiRC false/true.
    /// The names are the T5 label words.
    pub fn label_space(self) -> LabelSpace {
        let names: &[&str] = match self {
            Benchmark::Cola => &["unacceptable", "acceptable"],
            Benchmark::Sst2 => &["negative", "positive"],
            Benchmark::Mrpc => &["not_equivalent", "equivalent"],
            Benchmark::Qqp => &["not_duplicate", "duplicate"],
            Benchmark::Mnli => &["entailment", "neutral", "contradiction"],
            Benchmark::Qnli | Benchmark::Rte | Benchmark::SuperGlueRte => {
                &["entailment", "not_entailment"]
            }
            Benchmark::Wnli => &["not_entailment", "entailment"],
            Benchmark::Cb => &["entailment", "contradiction", "neutral"],
            Benchmark::Copa => &["choice1", "choice2"],
            Benchmark::BoolQ | Benchmark::MultiRc | Benchmark::Wic | Benchmark::Wsc => {
                &["False", "True"]
            }
            Benchmark::Stsb => return LabelSpace::Regression,
            Benchmark::Record => return LabelSpace::Answers,
        };
        LabelSpace::Classes(names.iter().map(|s| s.to_string()).collect())
    }

    /// The paper's metrics for the task, the first one being the one that
    /// picks the best checkpoint.
    pub fn metrics(self) -> Vec<Metric> {
        match self {
            Benchmark::Cola => vec![Metric::Matthews],
            Benchmark::Stsb => vec![Metric::Pearson, Metric::Spearman],
            Benchmark::Mrpc | Benchmark::Qqp => vec![Metric::F1, Metric::Accuracy],
            Benchmark::Cb => vec![Metric::MacroF1, Metric::Accuracy],
            Benchmark::MultiRc => vec![Metric::MultiRcF1, Metric::MultiRcExactMatch],
            Benchmark::Record => vec![Metric::RecordF1, Metric::RecordExactMatch],
            _ => vec![Metric::Accuracy],
        }
    }
}

/// Everything the rest of bipeft needs to know about a loaded task, built-in
/// or the user's own.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    /// The command-line name; also the T5 prefix.
    pub name: String,
    /// The built-in task, when it is one.
    pub benchmark: Option<Benchmark>,
    pub labels: LabelSpace,
    pub protocol: Protocol,
    /// The default maximum source length in tokens.
    pub max_length: usize,
    pub metrics: Vec<Metric>,
}

impl TaskInfo {
    pub fn of(task: Benchmark) -> Self {
        TaskInfo {
            name: task.name().to_string(),
            benchmark: Some(task),
            labels: task.label_space(),
            protocol: task.protocol(),
            max_length: task.max_length(),
            metrics: task.metrics(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for task in Benchmark::ALL {
            assert_eq!(Benchmark::from_name(task.name()).unwrap(), task);
        }
        let err = Benchmark::from_name("sst-2").unwrap_err().to_string();
        assert!(
            err.starts_with("unknown task \"sst-2\" (known tasks: cola, sst2,"),
            "{err}"
        );
    }

    #[test]
    fn files_as_distributed() {
        assert_eq!(
            Benchmark::Mnli.file_name(Part::Dev),
            Some("dev_matched.tsv")
        );
        assert_eq!(
            Benchmark::Mnli.file_name(Part::DevMismatched),
            Some("dev_mismatched.tsv")
        );
        assert_eq!(Benchmark::Sst2.file_name(Part::DevMismatched), None);
        assert_eq!(Benchmark::Copa.file_name(Part::Dev), Some("val.jsonl"));
        assert_eq!(Benchmark::Cola.file_name(Part::Train), Some("train.tsv"));
    }

    #[test]
    fn protocols_and_lengths() {
        assert_eq!(Benchmark::Sst2.protocol(), Protocol::Large);
        assert_eq!(Benchmark::Record.protocol(), Protocol::Large);
        assert_eq!(Benchmark::BoolQ.protocol(), Protocol::Small);
        assert_eq!(Benchmark::Cola.max_length(), 128);
        assert_eq!(Benchmark::Rte.max_length(), 256);
        assert_eq!(Benchmark::Wic.max_length(), 256);
        assert_eq!(Benchmark::Record.max_length(), 512);
    }
}

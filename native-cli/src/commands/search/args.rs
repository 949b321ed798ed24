//! `bipeft search`'s command line: the options, the method they name and
//! the sensitivity criterion.

use bipeft_core::experiment::Method;
use bipeft_core::search::Criterion;
use clap::ValueEnum;
use std::path::PathBuf;

use crate::backend::BackendArgs;
use crate::custom_task::CustomTaskArgs;
use crate::progress::ProgressArgs;

/// `--mode`: the search and its ablations, or a hand-made baseline sized to the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[clap(rename_all = "snake_case")]
pub enum Mode {
    /// BIPEFT: iterative binary/dimension search with early selection.
    Bipeft,
    /// Ablation: one entangled space, rank 0 is "off".
    NoIter,
    /// Ablation: plain softmax instead of Gumbel samples.
    NoGumbel,
    /// Ablation: binary stage first half, dimension stage second half.
    BinaryThenDim,
    /// Ablation: dimension stage first, then binary.
    DimThenBinary,
    /// Baseline: LoRA on every LoRA slot of the space at the largest integer rank that fits.
    UniformLora,
    /// Baseline: LoRA on attention query and value only (Hugging Face PEFT's
    /// default targets) at the largest integer rank that fits.
    LoraQv,
    /// Baseline: BitFit only (as many as fit, in slot order).
    Bitfit,
    /// Baseline: LNFit only.
    Lnfit,
    /// Baseline: low-rank adapters on every adapter slot at the largest integer rank that fits.
    Adapter,
}

impl Mode {
    /// The method this mode runs; `--no-early-selection` turns BIPEFT into
    /// its `no_early_selection` ablation (other ablations keep their name
    /// and run without selection).
    pub fn method(self, no_early_selection: bool) -> Method {
        match self {
            Mode::Bipeft if no_early_selection => Method::NoEarlySelection,
            Mode::Bipeft => Method::Bipeft,
            Mode::NoIter => Method::NoIter,
            Mode::NoGumbel => Method::NoGumbel,
            Mode::BinaryThenDim => Method::BinaryThenDim,
            Mode::DimThenBinary => Method::DimThenBinary,
            Mode::UniformLora => Method::UniformLora,
            Mode::LoraQv => Method::LoraQv,
            Mode::Bitfit => Method::Bitfit,
            Mode::Lnfit => Method::Lnfit,
            Mode::Adapter => Method::Adapter,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[clap(rename_all = "snake_case")]
pub enum CriterionArg {
    Tra,
    Val,
    TraVal,
    TraValCos1,
    TraValCos2,
}

impl CriterionArg {
    pub fn criterion(self) -> Criterion {
        match self {
            CriterionArg::Tra => Criterion::Tra,
            CriterionArg::Val => Criterion::Val,
            CriterionArg::TraVal => Criterion::TraVal,
            CriterionArg::TraValCos1 => Criterion::TraValCos1,
            CriterionArg::TraValCos2 => Criterion::TraValCos2,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Hugging Face model directory (config.json, safetensors, tokenizer.json).
    #[arg(long, required_unless_present = "resume")]
    pub model: Option<PathBuf>,
    /// GLUE / SuperGLUE task name (e.g. sst2, rte, boolq), or a name for
    /// your own task (with --text-column and --label-column).
    #[arg(long, required_unless_present = "resume")]
    pub task: Option<String>,
    /// Folder holding the task's files as distributed; for your own task a
    /// folder with train.csv|tsv|jsonl (and optionally dev.*), or one file.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Parameter budget: a count (`102600`) or a share of the backbone (`0.0139%`).
    #[arg(long, required_unless_present = "resume")]
    pub budget: Option<String>,
    /// `s1`, `s2`, `lora`, or a JSON space file.
    #[arg(long, default_value = "s1")]
    pub space: String,
    /// Where to write peft_config.json, search_trace.json and checkpoints.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Overwrite a finished (or unfinished) run in --out.
    #[arg(long)]
    pub force: bool,
    /// Continue the interrupted search in RUN_DIR from its last checkpoint,
    /// with the options it was started with.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["model", "task", "data", "budget", "out"])]
    pub resume: Option<PathBuf>,
    /// Save a checkpoint every N steps, so that a killed search can `--resume` [default: 50; 0: only at the end].
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Maximum search epochs (the search may stop early).
    #[arg(long, default_value_t = 15)]
    pub epochs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep at most this many training examples (a seeded subset).
    #[arg(long)]
    pub max_train_examples: Option<usize>,
    /// Hold out this many training examples as validation and test on the
    /// whole dev set (the large-set protocol at any task size).
    #[arg(long)]
    pub validation_from_train: Option<usize>,
    /// Truncate inputs to this many tokens (default: the task's, 128 for most).
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Search batch size (64 for S1, 32 for S2 in the reference).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// AdamW learning rate of the PEFT weights and head.
    #[arg(long, default_value_t = 3e-4)]
    pub weight_lr: f64,
    /// Adam learning rate of the architecture logits.
    #[arg(long, default_value_t = 0.01)]
    pub arch_lr: f64,
    /// T: selection steps from the expected size to the budget (default: fitted
    /// to the search's length, one per 2 weight steps after selection begins,
    /// at most the reference's 100).
    #[arg(long)]
    pub max_selection_steps: Option<usize>,
    /// Mean cosine at which a selection step fires.
    #[arg(long, default_value_t = 0.85)]
    pub trigger_threshold: f64,
    /// First (0-based) epoch of early selection (default: 2 for searches of
    /// 10 epochs or more, else 1, as the reference sets it per task).
    #[arg(long)]
    pub selection_start_epoch: Option<usize>,
    /// Candidate ranks for every rank-searchable slot (default: the space's), e.g. `1,4,8`.
    #[arg(long, value_delimiter = ',')]
    pub ranks: Option<Vec<usize>>,
    /// Sensitivity criterion.
    #[arg(long, value_enum, default_value_t = CriterionArg::TraValCos1)]
    pub criterion: CriterionArg,
    #[arg(long, value_enum, default_value_t = Mode::Bipeft)]
    pub mode: Mode,
    /// Run the plain bi-level search without budget-guided early selection.
    #[arg(long)]
    pub no_early_selection: bool,
    #[command(flatten)]
    pub custom: CustomTaskArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print the closing summary on stderr (for `bipeft demo`, whose stdout is its result).
    #[arg(long, hide = true)]
    pub summary_to_stderr: bool,
}

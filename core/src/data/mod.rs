//! Tasks, data, splits and batching: GLUE / SuperGLUE files as distributed and
//! a user's own CSV / TSV / JSONL, the S3Delta split protocol and the search's
//! two halves, the text-to-text (T5) and encoder formulations, tokenisation
//! with the model's tokenizer, padded batches and their burn tensors, and a
//! cache of tokenised data.
//!
//! Readers take text or bytes (the browser has no files); `load_task` and
//! `load_part` are thin helpers over them that read a folder.

pub mod batcher;
pub mod cache;
pub mod custom;
pub mod encoder;
pub mod error;
pub mod example;
pub mod glue;
pub mod jsonl;
pub mod load;
pub mod rng;
pub mod search_plan;
pub mod splits;
pub mod summary;
pub mod superglue;
pub mod task;
pub mod tensors;
pub mod text2text;
pub mod tokenize;
pub mod tsv;

pub use batcher::{collate, plan_batches, Batch, BatchOptions, BatchTargets, Batches, ItemRef};
pub use custom::{CustomKind, CustomTask};
pub use error::DataError;
pub use example::{Example, Label, Text};
pub use load::{load_part, load_task, read_benchmark_text, PartData, TaskData, TaskSource};
pub use search_plan::SearchEpochPlan;
pub use splits::{ExampleRef, SplitName, SplitOptions, Splits};
pub use task::{Benchmark, FileFormat, LabelSpace, Part, Protocol, TaskInfo};
pub use tensors::{TensorBatch, TensorTargets};
pub use text2text::{parse_prediction, LabelWords, Prediction};
pub use tokenize::{
    tokenize_task, Encoded, EncodedTarget, Formulation, TokenizeOptions, TokenizedTask,
};

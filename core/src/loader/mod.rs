//! Loading Hugging Face model files: the checkpoint's tensors, the tokenizer,
//! and the directory (or in-memory bytes) they come from. The key tables that
//! map checkpoint names onto backbone modules live with each backbone
//! (`backbone/t5/load.rs`, `backbone/bert/load.rs`).

pub mod files;
pub mod tokenizer;
pub mod weights;

pub use files::{read_config_json, read_tokenizer, ModelFiles};
pub use tokenizer::TextTokenizer;
pub use weights::Weights;

//! BERT-family encoders (BERT, MiniLM, RoBERTa, XLM-RoBERTa) on burn, computing
//! what transformers' `BertModel` / `RobertaModel` compute, with PEFT hooks at
//! every linear, norm, sub-layer and attention (see `backbone::hooks`).
//!
//! - `config`: config.json → [`BertConfig`]
//! - `layer_norm`, `embeddings`, `attention`, `ffn`, `layer`, `model`: the encoder
//! - `pooling`, `head`: sentence vectors and the classification / regression head
//! - `load`: checkpoint keys → modules; `site`: hook sites → checkpoint names

mod attention;
mod config;
mod embeddings;
mod ffn;
mod head;
mod layer;
mod layer_norm;
mod linear;
mod load;
mod model;
mod pooling;
mod site;

pub use attention::BertAttention;
pub use config::{Activation, BertConfig, BertKind};
pub use embeddings::BertEmbeddings;
pub use ffn::BertFfn;
pub use head::{BertForSequenceClassification, BertHead, BertHeadConfig};
pub use layer::BertLayer;
pub use layer_norm::{BertLayerNorm, BertLayerNormConfig};
pub use load::detect_prefix;
pub use model::{attention_mask_bias, BertModel};
pub use pooling::{pool, Pooling};
pub use site::{all_sites, site_name};

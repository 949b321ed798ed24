//! T5 encoder–decoder (original and v1.1 / FLAN), computing what Hugging Face
//! `transformers`' `T5ForConditionalGeneration` computes (checked to 1e-4
//! against it by `tests/tests/t5_reference.rs`).
//!
//! - [`config`]: `config.json` → [`T5Config`]
//! - [`norm`], [`position_bias`], [`attention`], [`ffn`], [`block`], [`stack`],
//!   [`model`]: the modules, bottom-up
//! - [`load`]: checkpoint keys → modules; [`names`]: hook sites → checkpoint paths
//! - [`loss`], [`generate`]: training loss and greedy decoding
//!
//! Every forward function takes a [`Hooks`](crate::backbone::Hooks) value and
//! calls it at each site (see `backbone/hooks.rs`); [`NoHooks`](crate::backbone::NoHooks)
//! gives the plain model. Dropout is left out: bipeft trains without it.

pub mod attention;
pub mod block;
pub mod config;
pub mod ffn;
pub mod generate;
pub mod load;
pub mod loss;
pub mod model;
pub mod names;
pub mod norm;
pub mod position_bias;
pub mod stack;

pub use config::{Activation, FeedForward, T5Config};
pub use loss::{masked_cross_entropy, seq2seq_loss};
pub use model::T5Model;
pub use names::{all_sites, site_name};

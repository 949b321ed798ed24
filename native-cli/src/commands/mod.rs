//! One file per subcommand.

pub mod bench;
pub mod data;
pub mod experiment;
pub mod demo;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod model_check;
pub mod retrain;
pub mod search;
pub mod space;

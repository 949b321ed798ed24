//! One file per subcommand.

pub mod baseline;
pub mod bench;
pub mod data;
pub mod model_check;
pub mod search;
pub mod space;

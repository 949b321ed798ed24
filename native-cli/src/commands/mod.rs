//! One file per subcommand.

pub mod data;
pub mod model_check;
pub mod space;

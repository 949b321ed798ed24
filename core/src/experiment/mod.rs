//! Experiments (issue 8): a plan crosses models, tasks, budgets, methods and
//! seeds into cells; each cell is a search (unless a hand-made baseline) plus
//! a retrain and a test score; finished cells are stored one file each, and
//! the report groups them over seeds. This module is the data side — plan,
//! cells, records, summaries, the Markdown report; running cells and
//! drawing plots is the command line's (`bipeft experiment`).

pub mod budget;
pub mod cell;
pub mod cell_search;
pub mod method;
pub mod paired;
pub mod plan;
pub mod record;
pub mod report;
pub mod shard;
pub mod summary;

pub use budget::Budget;
pub use cell::Cell;
pub use method::Method;
pub use paired::{paired_differences, PairedDifference};
pub use plan::{ModelEntry, Plan, PlanFormat, RetrainSettings, SearchSettings, TaskEntry};
pub use record::{CellOutcome, CellRecord, CELL_FORMAT};
pub use report::{MethodTime, Report, RESULTS_FORMAT};
pub use shard::{shard_of, Shard};
pub use summary::{search_time_per_method, summarise, Group, Stat};

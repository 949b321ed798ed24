//! A whole search, from a model and a task to a configuration within the
//! budget and its trace: what `bipeft search`, `bipeft demo`, the experiment
//! runner and the page's worker all run (docs/algorithm.md §3–6). Callers
//! only read their inputs (files or bytes), call [`SearchSession::step`] until
//! it says the search is finished, and write or show what
//! [`SearchSession::finish`] gives.

pub mod search_session;
pub mod search_trace;
pub mod sized_baseline;
pub mod spec;

pub use search_session::{SearchResult, SearchSession, SessionProgress, SessionStep};
pub use search_trace::{BaselineTrace, SearchTrace, SlotInfo, StepRecord, TRACE_FORMAT};
pub use sized_baseline::size_baseline;
pub use spec::{check_budget_fits, SearchOptions, SearchSpec, SelectionOptions};

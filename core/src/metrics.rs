//! Task metrics.

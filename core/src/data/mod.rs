//! Tasks, data files, splits and batching.

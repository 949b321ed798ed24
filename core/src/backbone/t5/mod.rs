//! T5 encoder–decoder (original and v1.1 / FLAN).

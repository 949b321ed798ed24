//! One typed error for the library. Every variant names the thing that is wrong
//! (a file, a tensor, a key) so a binary can print it as one clear line.

use std::path::PathBuf;

/// Everything `bipeft-core` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("missing file {path}: {hint}")]
    MissingFile { path: PathBuf, hint: String },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("malformed {file}: {message}")]
    MalformedConfig { file: String, message: String },

    #[error("unknown model_type \"{found}\" in config.json (supported: {supported})")]
    UnknownModelType { found: String, supported: String },

    #[error("malformed safetensors file {file}: {message}")]
    Safetensors { file: String, message: String },

    #[error("tensor `{name}` is missing from the checkpoint")]
    MissingTensor { name: String },

    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    #[error("tensor `{name}` has dtype {dtype}, which bipeft cannot load (F32, F16, BF16, F64 only)")]
    UnsupportedDtype { name: String, dtype: String },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("invalid input: {0}")]
    InvalidInput(String),

    #[error("reading a tensor back from the device failed: {0}")]
    TensorRead(String),

    #[error(transparent)]
    Data(#[from] crate::data::DataError),
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error together with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

//! A Hugging Face model directory's files, from disk or from bytes (the browser
//! has no files): `config.json`, the safetensors checkpoint, `tokenizer.json`.

use std::path::Path;

use crate::error::{Error, Result};
use crate::loader::{TextTokenizer, Weights};

/// The files that make a model, already read.
#[derive(Debug)]
pub struct ModelFiles {
    /// The text of `config.json`.
    pub config_json: String,
    /// The checkpoint's tensors.
    pub weights: Weights,
    /// The tokenizer, when the directory has a `tokenizer.json`.
    pub tokenizer: Option<TextTokenizer>,
}

impl ModelFiles {
    /// Reads a Hugging Face model directory.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::MissingFile {
                path: dir.to_path_buf(),
                hint: "the model directory does not exist".into(),
            });
        }
        let config_json = read_config_json(dir)?;
        let weights = Weights::from_dir(dir)?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer = if tokenizer_path.is_file() {
            let bytes = std::fs::read(&tokenizer_path).map_err(|e| Error::io(&tokenizer_path, e))?;
            Some(TextTokenizer::from_bytes(&bytes)?)
        } else {
            None
        };
        Ok(ModelFiles {
            config_json,
            weights,
            tokenizer,
        })
    }

    /// Builds from bytes: `config.json`, checkpoint shards as `(file name, bytes)`,
    /// and optionally `tokenizer.json`.
    pub fn from_bytes(
        config_json: &[u8],
        checkpoint_shards: Vec<(String, Vec<u8>)>,
        tokenizer_json: Option<&[u8]>,
    ) -> Result<Self> {
        let config_json = String::from_utf8(config_json.to_vec()).map_err(|_| Error::MalformedConfig {
            file: "config.json".into(),
            message: "not UTF-8 text".into(),
        })?;
        Ok(ModelFiles {
            config_json,
            weights: Weights::from_bytes(checkpoint_shards)?,
            tokenizer: tokenizer_json.map(TextTokenizer::from_bytes).transpose()?,
        })
    }

    /// The tokenizer, or an error that says the directory lacks one.
    pub fn require_tokenizer(&self) -> Result<&TextTokenizer> {
        self.tokenizer.as_ref().ok_or_else(|| Error::MissingFile {
            path: "tokenizer.json".into(),
            hint: "the model directory has no tokenizer.json; bipeft needs the model's fast tokenizer".into(),
        })
    }
}

/// The text of `DIR/config.json`, or a clear error.
pub fn read_config_json(dir: &Path) -> Result<String> {
    let path = dir.join("config.json");
    if !path.is_file() {
        return Err(Error::MissingFile {
            path,
            hint: "a Hugging Face model directory needs config.json".into(),
        });
    }
    std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))
}

/// Reads `DIR/tokenizer.json`, or says it is missing.
pub fn read_tokenizer(dir: &Path) -> Result<TextTokenizer> {
    let path = dir.join("tokenizer.json");
    if !path.is_file() {
        return Err(Error::MissingFile {
            path,
            hint: "the model directory has no tokenizer.json; bipeft needs the model's fast tokenizer".into(),
        });
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    TextTokenizer::from_bytes(&bytes)
}

//! The model's own `tokenizer.json`, through the `tokenizers` crate, with the
//! fixed padding and truncation some published files switch on turned off
//! (bipeft pads per batch and truncates itself).

use tokenizers::Tokenizer;

use crate::error::{Error, Result};

/// A Hugging Face fast tokenizer that adds the model's special tokens.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextTokenizer(vocab {})", self.vocab_size())
    }
}

impl TextTokenizer {
    /// Parses the contents of a `tokenizer.json`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut inner = Tokenizer::from_bytes(bytes)
            .map_err(|e| Error::Tokenizer(format!("tokenizer.json is not a valid tokenizer: {e}")))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(TextTokenizer { inner })
    }

    /// Ids of one text, with the model's special tokens (`[CLS] … [SEP]`, `… </s>`).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Ids and token type ids of a text pair (`[CLS] a [SEP] b [SEP]` for BERT).
    pub fn encode_pair(&self, first: &str, second: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let encoding = self
            .inner
            .encode((first, second), true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok((encoding.get_ids().to_vec(), encoding.get_type_ids().to_vec()))
    }

    /// Many texts at once (parallel where the `tokenizers` build allows it).
    pub fn encode_batch(&self, texts: Vec<String>) -> Result<Vec<Vec<u32>>> {
        let encodings = self
            .inner
            .encode_batch(texts, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Text of ids, special tokens skipped (for decoding generated labels).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The id of a token string, if the vocabulary has it (`</s>`, `[PAD]`).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The underlying `tokenizers` value.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

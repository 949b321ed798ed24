//! A tokenised task saved so the next run need not tokenise again: a cache
//! key (a hash of everything the tokens depend on) and a compact
//! little-endian binary form. Where the bytes are kept is the caller's
//! business (the CLI: `$XDG_CACHE_HOME/bipeft/tokenized/<key>.bin`).
//!
//! Layout (all integers u32 LE unless said): magic `BPTK`, format version,
//! pad id, options (formulation tag u8, label words u8, max length, max target
//! length), part count; per part: part tag u8, example count, item count; per
//! item: example, choice, full length, id count + ids, type-id count + type
//! ids, target tag u8 + (class u32 | score f32 | count + ids).

use sha2::{Digest, Sha256};

use crate::data::load::{TaskData, TaskSource};
use crate::data::task::Part;
use crate::data::text2text::LabelWords;
use crate::data::tokenize::{
    Encoded, EncodedPart, EncodedTarget, Formulation, TokenizeOptions, TokenizedTask,
};
use crate::data::DataError;
use crate::error::Result;
use crate::loader::TextTokenizer;

const MAGIC: &[u8; 4] = b"BPTK";
/// Bump when the layout or what the readers produce changes.
const VERSION: u32 = 1;

/// The cache key: SHA-256 (hex) of the format version, the task and its
/// reading options, each file's SHA-256, the tokenizer's JSON and the
/// tokenisation options.
pub fn cache_key(
    source: &TaskSource,
    data: &TaskData,
    tokenizer: &TextTokenizer,
    options: &TokenizeOptions,
) -> Result<String> {
    let tokenizer_json = tokenizer.inner().to_string(false).map_err(|e| {
        crate::Error::Tokenizer(format!(
            "cannot serialise the tokenizer for the cache key: {e}"
        ))
    })?;
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(&VERSION.to_le_bytes());
    field(format!("{source:?}").as_bytes());
    for part in &data.parts {
        field(part.part.name().as_bytes());
        field(part.sha256.as_bytes());
    }
    field(tokenizer_json.as_bytes());
    field(format!("{options:?}").as_bytes());
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The binary form of a tokenised task.
pub fn to_bytes(task: &TokenizedTask) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    put(&mut out, VERSION);
    put(&mut out, task.pad_id);
    let (formulation, words) = match task.options.formulation {
        Formulation::Encoder => (0u8, 0u8),
        Formulation::TextToText(LabelWords::Names) => (1, 0),
        Formulation::TextToText(LabelWords::Indices) => (1, 1),
    };
    out.push(formulation);
    out.push(words);
    put(&mut out, task.options.max_length as u32);
    put(&mut out, task.options.max_target_length as u32);
    put(&mut out, task.parts.len() as u32);
    for part in &task.parts {
        out.push(part_tag(part.part));
        put(&mut out, part.examples() as u32);
        put(&mut out, part.items.len() as u32);
        for item in &part.items {
            put(&mut out, item.example);
            put(&mut out, item.choice);
            put(&mut out, item.full_length);
            put_ids(&mut out, &item.input_ids);
            put_ids(&mut out, &item.type_ids);
            match &item.target {
                EncodedTarget::Class(c) => {
                    out.push(0);
                    put(&mut out, *c);
                }
                EncodedTarget::Score(s) => {
                    out.push(1);
                    out.extend_from_slice(&s.to_le_bytes());
                }
                EncodedTarget::Tokens(ids) => {
                    out.push(2);
                    put_ids(&mut out, ids);
                }
            }
        }
    }
    out
}

/// Reads [`to_bytes`]'s output back; anything else is a [`DataError::Cache`].
pub fn from_bytes(bytes: &[u8]) -> Result<TokenizedTask> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != MAGIC {
        return Err(DataError::Cache("not a bipeft tokenised-data file".into()).into());
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(
            DataError::Cache(format!("format version {version}, expected {VERSION}")).into(),
        );
    }
    let pad_id = r.u32()?;
    let formulation = match (r.u8()?, r.u8()?) {
        (0, _) => Formulation::Encoder,
        (1, 0) => Formulation::TextToText(LabelWords::Names),
        (1, 1) => Formulation::TextToText(LabelWords::Indices),
        (f, w) => return Err(DataError::Cache(format!("unknown formulation tag {f}/{w}")).into()),
    };
    let options = TokenizeOptions {
        formulation,
        max_length: r.u32()? as usize,
        max_target_length: r.u32()? as usize,
    };
    let part_count = r.u32()?;
    let mut parts = Vec::new();
    for _ in 0..part_count {
        let part = tag_part(r.u8()?)?;
        let examples = r.u32()? as usize;
        let item_count = r.u32()? as usize;
        let mut items = Vec::with_capacity(item_count.min(r.remaining() / 16));
        for _ in 0..item_count {
            let example = r.u32()?;
            let choice = r.u32()?;
            let full_length = r.u32()?;
            let input_ids = r.ids()?;
            let type_ids = r.ids()?;
            let target = match r.u8()? {
                0 => EncodedTarget::Class(r.u32()?),
                1 => EncodedTarget::Score(f32::from_le_bytes(r.array()?)),
                2 => EncodedTarget::Tokens(r.ids()?),
                tag => return Err(DataError::Cache(format!("unknown target tag {tag}")).into()),
            };
            items.push(Encoded {
                example,
                choice,
                input_ids,
                type_ids,
                full_length,
                target,
            });
        }
        parts.push(EncodedPart::new(part, items, examples)?);
    }
    if r.remaining() != 0 {
        return Err(DataError::Cache(format!("{} trailing bytes", r.remaining())).into());
    }
    Ok(TokenizedTask {
        options,
        pad_id,
        parts,
    })
}

fn put(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_ids(out: &mut Vec<u8>, ids: &[u32]) {
    put(out, ids.len() as u32);
    for &id in ids {
        put(out, id);
    }
}

fn part_tag(part: Part) -> u8 {
    match part {
        Part::Train => 0,
        Part::Dev => 1,
        Part::DevMismatched => 2,
        Part::Test => 3,
    }
}

fn tag_part(tag: u8) -> Result<Part> {
    Ok(match tag {
        0 => Part::Train,
        1 => Part::Dev,
        2 => Part::DevMismatched,
        3 => Part::Test,
        _ => return Err(DataError::Cache(format!("unknown part tag {tag}")).into()),
    })
}

/// A cursor that turns running out of bytes into an error.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(DataError::Cache(format!("truncated at byte {}", self.at)).into());
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn ids(&mut self) -> Result<Vec<u32>> {
        let n = self.u32()? as usize;
        let raw = self.take(
            n.checked_mul(4)
                .ok_or_else(|| DataError::Cache("id count overflows".into()))?,
        )?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

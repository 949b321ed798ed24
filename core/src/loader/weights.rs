//! A Hugging Face checkpoint's tensors, read from safetensors bytes (one file or
//! shards), handed out by name with their shape checked and their dtype cast to f32.
//!
//! Parsing is done by the `safetensors` crate; this module adds what bipeft
//! needs on top: shard indexes, f16/bf16 → f32, and errors that name the tensor
//! with its expected and found shapes.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{backend::Backend, Tensor, TensorData};
use safetensors::{tensor::Metadata, Dtype, SafeTensors};

use crate::error::{Error, Result};

/// Where one tensor lives: which shard, its dtype and shape, and its byte range.
#[derive(Debug, Clone)]
struct Entry {
    shard: usize,
    dtype: Dtype,
    shape: Vec<usize>,
    /// Absolute byte range inside the shard's bytes.
    start: usize,
    end: usize,
}

/// All tensors of a checkpoint, by name.
#[derive(Debug)]
pub struct Weights {
    shards: Vec<Vec<u8>>,
    entries: HashMap<String, Entry>,
}

impl Weights {
    /// Reads checkpoint shards already in memory: `(file name, bytes)` pairs. The
    /// file name only appears in error messages.
    pub fn from_bytes(shards: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let mut entries = HashMap::new();
        let mut kept = Vec::with_capacity(shards.len());
        for (shard_index, (file, bytes)) in shards.into_iter().enumerate() {
            let (header_len, metadata): (usize, Metadata) = SafeTensors::read_metadata(&bytes)
                .map_err(|e| Error::Safetensors {
                    file: file.clone(),
                    message: e.to_string(),
                })?;
            let data_start = 8 + header_len;
            for (name, info) in metadata.tensors() {
                let (begin, end) = info.data_offsets;
                entries.insert(
                    name,
                    Entry {
                        shard: shard_index,
                        dtype: info.dtype,
                        shape: info.shape.clone(),
                        start: data_start + begin,
                        end: data_start + end,
                    },
                );
            }
            kept.push(bytes);
        }
        Ok(Weights {
            shards: kept,
            entries,
        })
    }

    /// Reads `model.safetensors`, or the shards listed in
    /// `model.safetensors.index.json`, from a model directory.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        if single.is_file() {
            let bytes = std::fs::read(&single).map_err(|e| Error::io(&single, e))?;
            return Self::from_bytes(vec![("model.safetensors".into(), bytes)]);
        }
        if index.is_file() {
            let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
            let mut shards = Vec::new();
            for file in shard_files_of_index(&text)? {
                let path = dir.join(&file);
                if !path.is_file() {
                    return Err(Error::MissingFile {
                        path,
                        hint: "listed in model.safetensors.index.json".into(),
                    });
                }
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                shards.push((file, bytes));
            }
            return Self::from_bytes(shards);
        }
        Err(Error::MissingFile {
            path: single,
            hint: "a model directory needs model.safetensors or model.safetensors.index.json \
                   (PyTorch .bin checkpoints are not read; convert them with safetensors)"
                .into(),
        })
    }

    /// Whether the checkpoint holds a tensor of this name.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The stored shape of a tensor.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.entries.get(name).map(|e| e.shape.as_slice())
    }

    /// The tensor `name` as f32 values, checked against `expected` shape.
    pub fn data(&self, name: &str, expected: &[usize]) -> Result<TensorData> {
        let entry = self.entries.get(name).ok_or_else(|| Error::MissingTensor {
            name: name.to_string(),
        })?;
        if entry.shape != expected {
            return Err(Error::ShapeMismatch {
                name: name.to_string(),
                expected: expected.to_vec(),
                found: entry.shape.clone(),
            });
        }
        let bytes = &self.shards[entry.shard][entry.start..entry.end];
        let values = to_f32(name, entry.dtype, bytes)?;
        Ok(TensorData::new(values, entry.shape.clone()))
    }

    /// The tensor `name` on `device`, checked against `expected` shape.
    pub fn tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        expected: [usize; D],
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        Ok(Tensor::from_data(self.data(name, &expected)?, device))
    }
}

/// The distinct shard file names of a `model.safetensors.index.json`, in order.
fn shard_files_of_index(text: &str) -> Result<Vec<String>> {
    let malformed = |message: String| Error::MalformedConfig {
        file: "model.safetensors.index.json".into(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let map = value
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| malformed("no \"weight_map\" object".into()))?;
    let mut files: Vec<String> = Vec::new();
    for (tensor, file) in map {
        let file = file
            .as_str()
            .ok_or_else(|| malformed(format!("weight_map[\"{tensor}\"] is not a file name")))?;
        if !files.iter().any(|f| f == file) {
            files.push(file.to_string());
        }
    }
    files.sort();
    Ok(files)
}

/// Little-endian stored values → f32.
fn to_f32(name: &str, dtype: Dtype, bytes: &[u8]) -> Result<Vec<f32>> {
    Ok(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")) as f32)
            .collect(),
        other => {
            return Err(Error::UnsupportedDtype {
                name: name.to_string(),
                dtype: format!("{other:?}"),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn checkpoint(dtype: Dtype, raw: Vec<u8>, shape: Vec<usize>) -> Vec<u8> {
        let view = TensorView::new(dtype, shape, &raw).unwrap();
        safetensors::serialize(vec![("w", view)], None).unwrap()
    }

    #[test]
    fn reads_f32_and_checks_shape() {
        let raw: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let w = Weights::from_bytes(vec![("m".into(), checkpoint(Dtype::F32, raw, vec![2, 3]))])
            .unwrap();
        let data = w.data("w", &[2, 3]).unwrap();
        assert_eq!(data.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let err = w.data("w", &[3, 2]).unwrap_err().to_string();
        assert_eq!(err, "tensor `w` has shape [2, 3], expected [3, 2]");
        let err = w.data("nope", &[1]).unwrap_err().to_string();
        assert_eq!(err, "tensor `nope` is missing from the checkpoint");
    }

    #[test]
    fn casts_half_precision() {
        let raw: Vec<u8> = [0.5f32, -2.0]
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect();
        let w = Weights::from_bytes(vec![("m".into(), checkpoint(Dtype::BF16, raw, vec![2]))])
            .unwrap();
        assert_eq!(w.data("w", &[2]).unwrap().to_vec::<f32>().unwrap(), vec![0.5, -2.0]);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let err = Weights::from_bytes(vec![("model.safetensors".into(), vec![1, 2, 3])])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("malformed safetensors file model.safetensors"), "{err}");
    }
}

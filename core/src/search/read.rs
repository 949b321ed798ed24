//! The search's host reads, all of them awaited. WebGPU forbids synchronous
//! reads (`into_data` panics there), and every read is a round trip to the
//! device, so the loop gathers what it needs from one step into a single
//! tensor and reads it once ([`read_parts`]).

use burn::tensor::{backend::Backend, Tensor};

use crate::error::{Error, Result};

/// The values of a tensor, read asynchronously, as f32.
pub async fn read_values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Result<Vec<f32>> {
    let data = tensor
        .into_data_async()
        .await
        .map_err(|e| Error::TensorRead(format!("{e:?}")))?;
    data.convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| Error::TensorRead(format!("{e:?}")))
}

/// Reads several flat tensors in one round trip: they are concatenated on the
/// device, read once, and split again on the host.
///
/// # Shapes
/// - parts: tensors of `[n_i]` → vectors of `n_i` values
pub async fn read_parts<B: Backend>(parts: Vec<Tensor<B, 1>>) -> Result<Vec<Vec<f32>>> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let sizes: Vec<usize> = parts.iter().map(|t| t.dims()[0]).collect();
    // Empty parts stay out of the concatenation (not every backend takes them).
    let filled: Vec<Tensor<B, 1>> = parts.into_iter().filter(|t| t.dims()[0] > 0).collect();
    let values = if filled.is_empty() {
        Vec::new()
    } else {
        read_values(Tensor::cat(filled, 0)).await?
    };
    let mut out = Vec::with_capacity(sizes.len());
    let mut start = 0;
    for n in sizes {
        out.push(values[start..start + n].to_vec());
        start += n;
    }
    Ok(out)
}

/// A tensor of any rank as a flat `[n]` one, for [`read_parts`].
pub fn flat<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Tensor<B, 1> {
    let n = tensor.dims().iter().product::<usize>();
    tensor.reshape([n])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;
    use futures_lite::future::block_on;

    type B = Flex<f32>;

    #[test]
    fn reads_parts_in_one_go() {
        let device = Default::default();
        let a = Tensor::<B, 1>::from_data(TensorData::new(vec![1.0f32, 2.0], [2]), &device);
        let b = Tensor::<B, 2>::from_data(
            TensorData::new(vec![3.0f32, 4.0, 5.0, 6.0], [2, 2]),
            &device,
        );
        let parts = block_on(read_parts(vec![a, flat(b)])).unwrap();
        assert_eq!(parts, vec![vec![1.0, 2.0], vec![3.0, 4.0, 5.0, 6.0]]);
        assert!(block_on(read_parts::<B>(Vec::new())).unwrap().is_empty());
    }
}

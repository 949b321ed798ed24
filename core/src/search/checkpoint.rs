//! Saving and resuming a search between two iterations: everything that
//! decides what the search does next — the trainable weights (PEFT modules
//! and head) with their parameter ids, the architecture logits, both
//! optimisers' moments, the selector (EMAs, trigger history, rank window,
//! masks, fixed ranks, T), the stage clock, the step count of the learning
//! rate decay, the noise generator and the events so far — so that a resumed
//! search ends exactly where the uninterrupted one would.
//!
//! The frozen backbone is not saved: a resumed search rebuilds its model from
//! the same files and gets the trainable parameters back by position
//! (every float parameter is visited in the same order), with their ids, so
//! the optimisers' records find their parameters again.
//!
//! The file is one MessagePack document (floats stored bit for bit). The
//! driver that runs the loop keeps its own state (data position, trace) in
//! [`SearchCheckpoint::driver`]. Saving reads the optimiser records
//! synchronously (burn's recorders do): a native feature, not one for WebGPU.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::config::SearchConfig;
use super::read::{flat, read_parts};
use super::slots::SearchSlots;
use crate::error::{Error, Result};

/// The magic string at the head of a checkpoint.
const FORMAT: &str = "bipeft-search-checkpoint";
const VERSION: u32 = 1;

/// One trainable parameter: its position among the model's float parameters,
/// its id (the optimiser's key) and its values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedParam {
    pub position: usize,
    pub id: u64,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A search saved between two iterations.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchCheckpoint {
    format: String,
    version: u32,
    /// The configuration and slots the search ran with; a resume must match.
    pub config: SearchConfig,
    pub slots: SearchSlots,
    /// The host-side loop state (MessagePack of the loop's private state).
    pub(crate) state: Vec<u8>,
    pub params: Vec<SavedParam>,
    /// Records of the logits and of the two optimisers (burn's named MessagePack).
    pub(crate) arch: Vec<u8>,
    pub(crate) weight_optim: Vec<u8>,
    pub(crate) arch_optim: Vec<u8>,
    /// Whatever the driver of the loop needs to continue (data position,
    /// trace so far), opaque here.
    pub driver: Vec<u8>,
}

impl SearchCheckpoint {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: SearchConfig,
        slots: SearchSlots,
        state: Vec<u8>,
        params: Vec<SavedParam>,
        arch: Vec<u8>,
        weight_optim: Vec<u8>,
        arch_optim: Vec<u8>,
    ) -> Self {
        SearchCheckpoint {
            format: FORMAT.into(),
            version: VERSION,
            config,
            slots,
            state,
            params,
            arch,
            weight_optim,
            arch_optim,
            driver: Vec::new(),
        }
    }

    /// The checkpoint as bytes, for a file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        crate::checkpoint_file::encode(self)
    }

    /// A checkpoint from bytes written by [`SearchCheckpoint::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        crate::checkpoint_file::decode(bytes, FORMAT, VERSION, "a bipeft search checkpoint")
    }
}

/// Encodes host state bit for bit.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(value)
        .map_err(|e| Error::InvalidInput(format!("cannot encode the search state: {e}")))
}

/// Decodes what [`encode`] wrote.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| Error::InvalidInput(format!("the checkpoint's search state is damaged: {e}")))
}

/// Reads every trainable float parameter of `module` (one awaited read).
pub async fn trainable_params<B: Backend, M: Module<B>>(module: &M) -> Result<Vec<SavedParam>> {
    let mut visitor = Trainable::<B> {
        position: 0,
        found: Vec::new(),
    };
    module.visit(&mut visitor);
    let (meta, tensors): (Vec<_>, Vec<_>) = visitor.found.into_iter().unzip();
    let values = read_parts(tensors).await?;
    Ok(meta
        .into_iter()
        .zip(values)
        .map(|((position, id, shape), values)| SavedParam {
            position,
            id,
            shape,
            values,
        })
        .collect())
}

/// Puts saved parameters back into `module` at their positions, with their
/// ids; every saved parameter must find a float parameter of its shape.
pub fn load_params<B: Backend, M: Module<B>>(
    module: M,
    params: &[SavedParam],
    device: &B::Device,
) -> Result<M> {
    let mut mapper = Restore::<B> {
        position: 0,
        params,
        next: 0,
        device: device.clone(),
        error: None,
        loaded: 0,
    };
    let module = module.map(&mut mapper);
    if let Some(error) = mapper.error {
        return Err(error);
    }
    if mapper.loaded != params.len() {
        return Err(Error::InvalidInput(format!(
            "the checkpoint holds {} trainable parameters, the model took {}: it was saved \
             from another model or space",
            params.len(),
            mapper.loaded
        )));
    }
    Ok(module)
}

/// A trainable parameter found: (position, id, shape) and its flat value.
type Found<B> = ((usize, u64, Vec<usize>), Tensor<B, 1>);

struct Trainable<B: Backend> {
    position: usize,
    found: Vec<Found<B>>,
}

impl<B: Backend> ModuleVisitor<B> for Trainable<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        if value.is_require_grad() {
            let shape = value.dims().to_vec();
            self.found
                .push(((self.position, param.id.val(), shape), flat(value.detach())));
        }
        self.position += 1;
    }
}

struct Restore<'a, B: Backend> {
    position: usize,
    params: &'a [SavedParam],
    /// The next saved parameter to place (they are in position order).
    next: usize,
    device: B::Device,
    error: Option<Error>,
    loaded: usize,
}

impl<B: Backend> ModuleMapper<B> for Restore<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let position = self.position;
        self.position += 1;
        let Some(saved) = self
            .params
            .get(self.next)
            .filter(|p| p.position == position)
        else {
            return param;
        };
        self.next += 1;
        let shape = param.val().dims().to_vec();
        if saved.shape != shape || saved.values.len() != shape.iter().product::<usize>() {
            self.error.get_or_insert(Error::InvalidInput(format!(
                "checkpoint parameter {position} has shape {:?}, the model's is {shape:?}: \
                 it was saved from another model or space",
                saved.shape
            )));
            return param;
        }
        let tensor = Tensor::from_data(
            TensorData::new(saved.values.clone(), saved.shape.clone()),
            &self.device,
        );
        self.loaded += 1;
        param.transform_for_load(tensor, ParamId::from(saved.id))
    }
}

//! The model that retraining trains (docs/algorithm.md §7): the frozen backbone,
//! exactly the modules of a discrete configuration, freshly initialised, and
//! for encoders a classification / regression head. Only [`Trainable`] is
//! seen by the optimiser and saved in checkpoints.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{backend::Backend, Int, Tensor};

use crate::backbone::bert::{detect_prefix, BertHead, BertModel};
use crate::backbone::t5::T5Model;
use crate::backbone::{BackboneConfig, Site};
use crate::data::{LabelSpace, TensorBatch};
use crate::error::{Error, Result};
use crate::loader::ModelFiles;
use crate::peft::PeftModel;
use crate::peft_config::PeftConfig;
use crate::task_model::{encoder_parts, task_loss};

/// A backbone read from a Hugging Face model directory, with its checkpoint
/// key prefix (`bert.` for a task checkpoint, "" for a bare encoder and T5),
/// which the configuration's module names carry.
pub struct Backbone {
    pub config: BackboneConfig,
    pub prefix: String,
    pub files: ModelFiles,
}

impl Backbone {
    pub fn load(dir: &Path) -> Result<Self> {
        Self::from_files(ModelFiles::from_dir(dir)?)
    }

    /// The backbone of files already read (from a directory or from bytes).
    pub fn from_files(files: ModelFiles) -> Result<Self> {
        let config = BackboneConfig::from_json(&files.config_json)?;
        let prefix = match &config {
            BackboneConfig::Bert(_) => detect_prefix(&files.weights)?,
            BackboneConfig::T5(_) => String::new(),
        };
        Ok(Backbone {
            config,
            prefix,
            files,
        })
    }

    /// Loads the backbone in `dir` for `peft`, which must have been made for it.
    pub fn load_for(dir: &Path, peft: &PeftConfig) -> Result<Self> {
        let backbone = Self::load(dir)?;
        backbone.check_config(peft)?;
        Ok(backbone)
    }

    /// Site names as the configuration was written with.
    pub fn naming(&self) -> impl Fn(Site) -> String + '_ {
        self.config.site_namer(&self.prefix)
    }

    /// A configuration searched on another backbone cannot be built here:
    /// its modules would sit at other widths and depths.
    pub fn check_config(&self, peft: &PeftConfig) -> Result<()> {
        let here = self.config.shape();
        let there = &peft.backbone;
        if &here != there {
            let describe = |s: &crate::space::BackboneShape| {
                format!(
                    "{} with {}+{} layers of width {} ({} parameters)",
                    s.model_type, s.encoder_layers, s.decoder_layers, s.d_model, s.backbone_params
                )
            };
            return Err(Error::InvalidInput(format!(
                "the configuration is for another model: it was made for a {}, but this model is a {}",
                describe(there),
                describe(&here)
            )));
        }
        Ok(())
    }
}

/// What the optimiser trains: the configuration's modules and the head.
#[derive(Module, Debug)]
pub struct Trainable<B: Backend> {
    pub peft: PeftModel<B>,
    /// The encoder's head (pooler + classifier, as transformers builds it); none for T5.
    pub head: Option<BertHead<B>>,
}

/// Frozen backbone + [`Trainable`].
#[derive(Module, Debug)]
pub struct RetrainModel<B: Backend> {
    pub bert: Option<BertModel<B>>,
    pub t5: Option<T5Model<B>>,
    pub trainable: Trainable<B>,
}

impl<B: Backend> RetrainModel<B> {
    /// Loads and freezes the backbone and builds fresh modules for `peft` (and
    /// a head for `labels`): the backend's seed decides their initial values.
    pub fn new(
        backbone: &Backbone,
        peft: &PeftConfig,
        labels: &LabelSpace,
        device: &B::Device,
    ) -> Result<Self> {
        backbone.check_config(peft)?;
        let peft_model = PeftModel::build(peft, backbone.naming(), device)?;
        let weights = &backbone.files.weights;
        Ok(match &backbone.config {
            BackboneConfig::Bert(c) => {
                let (bert, head) = encoder_parts(c, weights, labels.num_outputs(), device)?;
                RetrainModel {
                    bert: Some(bert.no_grad()),
                    t5: None,
                    trainable: Trainable {
                        peft: peft_model,
                        head: Some(head),
                    },
                }
            }
            BackboneConfig::T5(c) => RetrainModel {
                bert: None,
                t5: Some(T5Model::from_weights(c, weights, device)?.no_grad()),
                trainable: Trainable {
                    peft: peft_model,
                    head: None,
                },
            },
        })
    }

    /// The encoder's logits for a batch; `None` for T5, which generates text.
    ///
    /// # Shapes
    /// - output: `[batch, outputs]`
    pub fn logits(&self, batch: &TensorBatch<B>) -> Option<Tensor<B, 2>> {
        let (bert, head) = (self.bert.as_ref()?, self.trainable.head.as_ref()?);
        let hidden = bert.forward(
            batch.input_ids.clone(),
            batch.token_type_ids.clone(),
            batch.attention_mask.clone(),
            &self.trainable.peft,
        );
        Some(head.forward(hidden, batch.attention_mask.clone()))
    }

    /// The task loss (see [`task_loss`]).
    ///
    /// # Shapes
    /// - output: `[1]`
    pub fn loss(&self, batch: &TensorBatch<B>) -> Result<Tensor<B, 1>> {
        let encoder = self.bert.as_ref().zip(self.trainable.head.as_ref());
        task_loss(encoder, self.t5.as_ref(), batch, &self.trainable.peft)
    }

    /// Greedy generation for T5 (`None` for encoders).
    ///
    /// # Shapes
    /// - output: `[batch, 1 + max_new_tokens]`
    pub fn generate(
        &self,
        batch: &TensorBatch<B>,
        max_new_tokens: usize,
    ) -> Option<Result<Tensor<B, 2, Int>>> {
        let t5 = self.t5.as_ref()?;
        Some(t5.generate_greedy(
            batch.input_ids.clone(),
            batch.attention_mask.clone(),
            max_new_tokens,
            &self.trainable.peft,
        ))
    }
}

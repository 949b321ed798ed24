//! `bipeft model-check`: one forward pass of a Hugging Face model on one input,
//! printed so it can be compared with `transformers`: BERT-family models give
//! their last hidden state, T5 its decoder logits teacher-forced on `--target`
//! (the way `transformers` does with `labels`: target ids with `</s>`, shifted
//! right behind the decoder start token).

use std::path::PathBuf;

use anyhow::Context;
use bipeft_core::backbone::{bert::BertModel, t5::T5Model, BackboneConfig, NoHooks};
use bipeft_core::loader::{read_config_json, read_tokenizer, ModelFiles, TextTokenizer};
use burn::prelude::*;
use burn::tensor::Int;

use crate::backend::{with_backend, BackendArgs, BackendRun};

#[derive(clap::Args)]
pub struct Args {
    /// Hugging Face model directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// The input text.
    #[arg(long)]
    pub text: String,
    /// T5 only: the decoder target text (teacher forcing).
    #[arg(long)]
    pub target: Option<String>,
    /// Print the full output as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// What one forward pass produced for the first (only) input.
#[derive(serde::Serialize)]
struct ModelCheck {
    model_type: String,
    token_ids: Vec<u32>,
    output: &'static str,
    shape: Vec<usize>,
    values: Vec<f32>,
    #[serde(skip)]
    num_params: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // The config first: a malformed config.json is reported before weights are read.
    let config = BackboneConfig::from_json(&read_config_json(&args.model)?)?;
    let tokenizer = read_tokenizer(&args.model)?;
    let files = ModelFiles::from_dir(&args.model)?;
    if args.target.is_some() && matches!(config, BackboneConfig::Bert(_)) {
        anyhow::bail!(
            "--target is for T5 (encoder–decoder) models; {} is an encoder",
            config.model_type()
        );
    }
    let check = with_backend(
        &args.backend,
        Check {
            files: &files,
            tokenizer: &tokenizer,
            config: &config,
            args: &args,
        },
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&check)?);
    } else {
        println!("model type   {}", check.model_type);
        println!("parameters   {}", check.num_params);
        println!("token ids    {:?}", check.token_ids);
        println!("output       {} {:?}", check.output, check.shape);
        let first: Vec<String> = check
            .values
            .iter()
            .take(6)
            .map(|v| format!("{v:.6}"))
            .collect();
        println!("first values [{} …]", first.join(", "));
    }
    Ok(())
}

struct Check<'a> {
    files: &'a ModelFiles,
    tokenizer: &'a TextTokenizer,
    config: &'a BackboneConfig,
    args: &'a Args,
}

impl BackendRun for Check<'_> {
    type Output = ModelCheck;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<ModelCheck> {
        let tokenizer = self.tokenizer;
        let token_ids = tokenizer.encode(&self.args.text)?;
        anyhow::ensure!(
            !token_ids.is_empty(),
            "the tokenizer produced no tokens for --text"
        );
        let ids = ids_tensor::<B>(&token_ids, &device);
        let mask = Tensor::<B, 2, Int>::ones([1, token_ids.len()], &device);
        let (output, tensor) = match self.config {
            BackboneConfig::Bert(config) => {
                let model = BertModel::<B>::from_weights(config, &self.files.weights, &device)?;
                let types = vec![0u32; token_ids.len()];
                model.check_ids(&token_ids, &types)?;
                let types = ids_tensor::<B>(&types, &device);
                model.check_input(&ids, &types, &mask)?;
                let hidden = model.forward(ids, types, mask, &NoHooks);
                ("last_hidden_state", hidden.squeeze_dim::<2>(0))
            }
            BackboneConfig::T5(config) => {
                let model = T5Model::<B>::from_weights(config, &self.files.weights, &device)?;
                let target = self
                    .args
                    .target
                    .as_deref()
                    .context("T5 models need --target (the decoder text to teacher-force)")?;
                let target_ids = tokenizer.encode(target)?;
                let vocab = config.vocab_size as u32;
                if let Some(bad) = token_ids.iter().chain(&target_ids).find(|&&id| id >= vocab) {
                    anyhow::bail!("token id {bad} is outside the model's vocabulary of {vocab}");
                }
                let labels = ids_tensor::<B>(&target_ids, &device);
                let logits = model.forward_teacher_forced(ids, mask, labels, &NoHooks)?;
                ("decoder_logits", logits.squeeze_dim::<2>(0))
            }
        };
        let shape = tensor.dims().to_vec();
        let values = tensor
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the output: {e:?}"))?;
        if let Some(position) = values.iter().position(|v| !v.is_finite()) {
            anyhow::bail!("the model produced a non-finite value at flat index {position}");
        }
        Ok(ModelCheck {
            model_type: self.config.model_type().to_string(),
            token_ids,
            output,
            shape,
            values,
            num_params: self.config.num_params(),
        })
    }
}

fn ids_tensor<B: Backend>(ids: &[u32], device: &B::Device) -> Tensor<B, 2, Int> {
    let values: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
    Tensor::from_data(TensorData::new(values, [1, ids.len()]), device)
}

//! Scoring a trained model on a split with the task's metrics, keeping each
//! example's prediction in split order (what `bipeft eval
//! --save-predictions` writes as JSON lines).
//!
//! Encoders predict from their head's logits: the arg-max class, the single
//! output for regression, and for ReCoRD (one item per candidate entity) the
//! candidate whose "is the answer" logit margin is largest. T5 generates the
//! label text greedily, which is parsed as the reference parses it.

use std::collections::HashMap;

use burn::tensor::backend::Backend;
use serde::Serialize;
use serde_json::Value;

use crate::data::text2text::{parse_prediction, Prediction};
use crate::data::tokenize::EncodedTarget;
use crate::data::{
    collate, plan_batches, BatchOptions, ExampleRef, Formulation, Label, LabelSpace, SplitName,
};
use crate::error::{Error, Result};
use crate::loader::TextTokenizer;
use crate::metrics::{evaluate as score, Outcome, Scores};

use super::model::RetrainModel;
use super::task::PreparedTask;

/// Longest label a T5 model may generate, in tokens.
const MAX_GENERATED_TOKENS: usize = 64;

/// Tokens to generate: as many as the task's longest target (with its EOS),
/// since decoding runs every step for the whole batch.
fn generation_length(task: &PreparedTask) -> usize {
    task.tokenized
        .parts
        .iter()
        .flat_map(|p| &p.items)
        .filter_map(|item| match &item.target {
            EncodedTarget::Tokens(ids) => Some(ids.len()),
            _ => None,
        })
        .max()
        .unwrap_or(MAX_GENERATED_TOKENS)
        .min(MAX_GENERATED_TOKENS)
}

/// One example's prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PredictionRecord {
    /// Position in the split.
    pub index: usize,
    /// The file the example was read from and its line there (1-based; a
    /// CSV's header is line 1), to join predictions back to the input.
    /// Absent for the built-in tasks, whose readers keep no lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The head's outputs (per candidate margin for ReCoRD); `null` for T5.
    pub logits: Option<Vec<f32>>,
    /// Class index, score, or answer text; `null` when T5 generated no label.
    pub prediction: Value,
    pub label: Value,
}

/// A split's scores and predictions.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub split: SplitName,
    pub scores: Scores,
    pub predictions: Vec<PredictionRecord>,
}

/// Scores `model` on `split` of `task` in batches of `batch_size`.
/// `tokenizer` decodes T5's generated labels.
pub fn evaluate_split<B: Backend>(
    model: &RetrainModel<B>,
    task: &PreparedTask,
    tokenizer: &TextTokenizer,
    split: SplitName,
    batch_size: usize,
    device: &B::Device,
) -> Result<Evaluation> {
    let examples = task.split(split)?;
    let position: HashMap<ExampleRef, usize> =
        examples.iter().enumerate().map(|(i, &e)| (e, i)).collect();
    let words = match task.tokenized.options.formulation {
        Formulation::TextToText(words) => Some(words),
        Formulation::Encoder => None,
    };
    let mut options = BatchOptions::eval(batch_size);
    // A T5 example is one generation, even where training has one item per answer.
    options.first_item_only = words.is_some();
    let plan = plan_batches(&task.tokenized, examples, &options)?;
    let max_new_tokens = generation_length(task);
    // Per example: the outputs of its items, by choice.
    let mut outputs: Vec<Vec<(u32, Vec<f32>)>> = vec![Vec::new(); examples.len()];
    let mut generated: Vec<Option<String>> = vec![None; examples.len()];
    for items in &plan {
        let batch = collate(&task.tokenized, items)?.to_tensors::<B>(device);
        if let Some(logits) = model.logits(&batch) {
            let [rows, width] = logits.dims();
            let values = read(logits.into_data())?;
            if values.iter().any(|v| !v.is_finite()) {
                return Err(Error::InvalidInput(format!(
                    "the model's outputs on the {} split are not finite numbers (NaN or infinite): \
                     its weights are broken, or its training diverged",
                    split.name()
                )));
            }
            for (r, item) in items.iter().enumerate().take(rows) {
                let row = values[r * width..(r + 1) * width].to_vec();
                outputs[position[&item.example]].push((item.choice, row));
            }
        } else if let (Some(ids), Some(_)) = (model.generate(&batch, max_new_tokens), words) {
            let ids = ids?;
            let [rows, len] = ids.dims();
            let values: Vec<i64> = ids
                .into_data()
                .convert::<i64>()
                .to_vec()
                .map_err(|e| Error::TensorRead(format!("{e:?}")))?;
            for (r, item) in items.iter().enumerate().take(rows) {
                // Skip the decoder start; pad and EOS are special and dropped by decode.
                let row: Vec<u32> = values[r * len + 1..(r + 1) * len]
                    .iter()
                    .map(|&v| v as u32)
                    .collect();
                generated[position[&item.example]] = Some(tokenizer.decode(&row)?);
            }
        }
    }

    let info = &task.data.info;
    let mut outcomes = Vec::with_capacity(examples.len());
    let mut predictions = Vec::with_capacity(examples.len());
    for (index, &reference) in examples.iter().enumerate() {
        let example = &task.data.examples(reference.part)[reference.index];
        let (prediction, logits) = match words {
            Some(words) => {
                let text = generated[index].as_deref().unwrap_or("");
                (parse_prediction(info, words, text), None)
            }
            None => head_prediction(&info.labels, &mut outputs[index], &example.candidates)?,
        };
        let (file, line) = source_line(task, reference);
        predictions.push(PredictionRecord {
            index,
            file,
            line,
            logits,
            prediction: prediction_json(&prediction),
            label: label_json(&example.label),
        });
        outcomes.push(Outcome {
            prediction,
            label: example.label.clone(),
            group: example.group,
        });
    }
    Ok(Evaluation {
        split,
        scores: score(info, &outcomes)?,
        predictions,
    })
}

/// The file and line `reference` was read from, where its reader kept lines.
fn source_line(task: &PreparedTask, reference: ExampleRef) -> (Option<String>, Option<usize>) {
    let part = task.data.part(reference.part);
    match part.and_then(|p| p.line(reference.index)) {
        Some(line) => (part.map(|p| p.file.clone()), Some(line)),
        None => (None, None),
    }
}

/// The prediction of an encoder's head from an example's item outputs.
fn head_prediction(
    labels: &LabelSpace,
    outputs: &mut [(u32, Vec<f32>)],
    candidates: &[String],
) -> Result<(Prediction, Option<Vec<f32>>)> {
    let missing = || Error::InvalidInput("an example got no output from the model".into());
    match labels {
        LabelSpace::Classes(_) => {
            let (_, row) = outputs.first().ok_or_else(missing)?;
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
                );
            Ok((Prediction::Class(best.0), Some(row.clone())))
        }
        LabelSpace::Regression => {
            let (_, row) = outputs.first().ok_or_else(missing)?;
            Ok((Prediction::Score(f64::from(row[0])), Some(row.clone())))
        }
        LabelSpace::Answers => {
            outputs.sort_by_key(|(choice, _)| *choice);
            let margins: Vec<f32> = outputs.iter().map(|(_, row)| row[1] - row[0]).collect();
            let best = margins
                .iter()
                .enumerate()
                .fold(None, |acc: Option<(usize, f32)>, (i, &m)| match acc {
                    Some((_, top)) if top >= m => acc,
                    _ => Some((i, m)),
                })
                .ok_or_else(missing)?;
            let choice = outputs[best.0].0 as usize;
            let text = candidates.get(choice).cloned().unwrap_or_default();
            Ok((Prediction::Text(text), Some(margins)))
        }
    }
}

fn read(data: burn::tensor::TensorData) -> Result<Vec<f32>> {
    data.convert::<f32>()
        .to_vec()
        .map_err(|e| Error::TensorRead(format!("{e:?}")))
}

fn prediction_json(prediction: &Prediction) -> Value {
    match prediction {
        Prediction::Class(c) => Value::from(*c),
        Prediction::Score(s) => Value::from(*s),
        Prediction::Text(t) => Value::from(t.as_str()),
        Prediction::Invalid => Value::Null,
    }
}

fn label_json(label: &Label) -> Value {
    match label {
        Label::Class(c) => Value::from(*c),
        Label::Score(s) => Value::from(*s),
        Label::Answers(answers) => Value::from(answers.clone()),
    }
}

/// What to score: a trained result on a split of its task.
#[derive(Clone, Debug)]
pub struct EvalSpec {
    /// A trained result's folder (`bipeft retrain --out`, or an export in the bipeft format).
    pub trained: std::path::PathBuf,
    pub model_dir: std::path::PathBuf,
    pub task: crate::data::TaskSource,
    pub data_dir: std::path::PathBuf,
    pub split: SplitName,
    /// Batch size of the pass; `None` takes the one the result was trained with.
    pub batch_size: Option<usize>,
}

/// Scores a trained result: the same splits and tokenisation as its training
/// (its saved settings), the task's metrics, predictions in split order.
pub fn evaluate<B: Backend>(spec: &EvalSpec, device: &B::Device) -> Result<Evaluation> {
    let trained = super::trained::Trained::read(&spec.trained)?;
    if trained.manifest.task != spec.task.name() {
        return Err(Error::InvalidInput(format!(
            "the result in {} was trained on task {}, not {}",
            spec.trained.display(),
            trained.manifest.task,
            spec.task.name()
        )));
    }
    let backbone = super::model::Backbone::load_for(&spec.model_dir, &trained.peft)?;
    let settings = &trained.manifest.settings;
    let task = PreparedTask::for_backbone(&spec.task, &spec.data_dir, &backbone, settings)?;
    let tokenizer = backbone.files.require_tokenizer()?;
    let model = trained.model::<B>(&backbone, &task.data.info.labels, device)?;
    evaluate_split(
        &model,
        &task,
        tokenizer,
        spec.split,
        spec.batch_size.unwrap_or(settings.eval_batch_size),
        device,
    )
}

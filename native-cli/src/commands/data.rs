//! `bipeft data`: what a user runs before a long search. Reads a task's files,
//! applies the split protocol and prints split sizes, label counts and, with a
//! model, token lengths and how many inputs the maximum length truncates.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use bipeft_core::data::cache;
use bipeft_core::data::summary::{label_summary, length_stats, LabelSummary, LengthStats};
use bipeft_core::data::{
    load_task, tokenize_task, Formulation, LabelWords, SplitName, SplitOptions, Splits, TaskData,
    TaskSource, TokenizeOptions, TokenizedTask,
};
use bipeft_core::loader::{read_config_json, read_tokenizer, TextTokenizer};
use serde_json::{json, Map, Value};

use crate::custom_task::CustomTaskArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, superglue-boolq,
    /// superglue-cb, superglue-copa, superglue-multirc, superglue-wic,
    /// superglue-wsc, superglue-rte, superglue-record; or a name for your own
    /// task (with --text-column and --label-column).
    #[arg(long)]
    task: String,
    /// The folder holding the task's files as distributed (train.tsv + dev.tsv,
    /// train.jsonl + val.jsonl, ...); for your own task train.csv|tsv|jsonl and
    /// optionally dev.* and test.*, or a single file.
    #[arg(long)]
    data: PathBuf,
    /// A Hugging Face model folder (config.json, tokenizer.json): adds token lengths.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Seed of the splits.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep at most this many training examples (a seeded subset).
    #[arg(long)]
    max_train_examples: Option<usize>,
    /// Hold out this many training examples as validation and test on the
    /// whole dev set (the large-set protocol at any task size).
    #[arg(long)]
    validation_from_train: Option<usize>,
    /// Maximum input length in tokens (default: the task's, 128 / 256 / 512).
    #[arg(long)]
    max_length: Option<usize>,
    /// T5 targets as the reference code writes them ("0", "1") instead of label words.
    #[arg(long)]
    index_labels: bool,
    /// Tokenise even when a cached copy exists (and do not write one).
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    custom: CustomTaskArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let source = args.custom.task_source(&args.task, args.max_length)?;
    let data = load_task(&source, &args.data)
        .with_context(|| format!("reading task {}", source.name()))?;
    let splits = Splits::new(
        &data,
        &SplitOptions {
            seed: args.seed,
            max_train_examples: args.max_train_examples,
            validation_from_train: args.validation_from_train,
        },
    )?;
    let tokens = match &args.model {
        Some(model) => Some(token_report(&args, &source, &data, &splits, model)?),
        None => None,
    };
    let report = report_json(&args, &data, &splits, tokens.as_ref());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&data, &splits, tokens.as_ref());
    }
    Ok(())
}

/// Token lengths of each split, with how the tokens were obtained.
struct TokenReport {
    model_type: String,
    options: TokenizeOptions,
    seconds: f64,
    cache: &'static str,
    splits: Vec<(SplitName, LengthStats)>,
}

fn token_report(
    args: &Args,
    source: &TaskSource,
    data: &TaskData,
    splits: &Splits,
    model: &Path,
) -> anyhow::Result<TokenReport> {
    let config: Value = serde_json::from_str(&read_config_json(model)?)
        .with_context(|| format!("{}/config.json is not JSON", model.display()))?;
    let model_type = config
        .get("model_type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let tokenizer = read_tokenizer(model)?;
    let mut formulation = Formulation::for_model_type(&model_type);
    if args.index_labels {
        if let Formulation::TextToText(_) = formulation {
            formulation = Formulation::TextToText(LabelWords::Indices);
        }
    }
    let mut options = TokenizeOptions::new(&data.info, formulation);
    if let Some(max_length) = args.max_length {
        options.max_length = max_length;
    }
    let started = Instant::now();
    let (tokenized, cache) = tokenized(args, source, data, &tokenizer, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    let splits = splits
        .names()
        .into_iter()
        .map(|name| (name, length_stats(&tokenized, splits.get(name))))
        .collect();
    Ok(TokenReport {
        model_type,
        options,
        seconds,
        cache,
        splits,
    })
}

/// The tokenised task, from the cache when it has it.
fn tokenized(
    args: &Args,
    source: &TaskSource,
    data: &TaskData,
    tokenizer: &TextTokenizer,
    options: &TokenizeOptions,
) -> anyhow::Result<(TokenizedTask, &'static str)> {
    if args.no_cache {
        return Ok((tokenize_task(data, tokenizer, options)?, "off"));
    }
    let key = cache::cache_key(source, data, tokenizer, options)?;
    let path = cache_dir().map(|dir| dir.join(format!("{key}.bin")));
    if let Some(path) = &path {
        if let Ok(bytes) = std::fs::read(path) {
            match cache::from_bytes(&bytes) {
                Ok(tokenized) => return Ok((tokenized, "hit")),
                Err(e) => eprintln!(
                    "note: ignoring the unreadable cache file {}: {e}",
                    path.display()
                ),
            }
        }
    }
    let tokenized = tokenize_task(data, tokenizer, options)?;
    if let Some(path) = &path {
        if let Err(e) = bipeft_core::train::atomic::write_atomic(path, &cache::to_bytes(&tokenized)) {
            eprintln!(
                "note: could not write the cache file {}: {e}",
                path.display()
            );
        }
    }
    Ok((tokenized, "miss"))
}

/// Tokenised tasks: `tokenized/` in the cache folder ([`crate::cache_dir`]).
fn cache_dir() -> Option<PathBuf> {
    crate::cache_dir::cache_dir().ok().map(|d| d.join("tokenized"))
}

fn labels_json(summary: &LabelSummary) -> Value {
    match summary {
        LabelSummary::Classes(counts) => Value::Object(
            counts
                .iter()
                .map(|(name, n)| (name.clone(), json!(n)))
                .collect::<Map<_, _>>(),
        ),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

fn report_json(
    args: &Args,
    data: &TaskData,
    splits: &Splits,
    tokens: Option<&TokenReport>,
) -> Value {
    let names = splits.names();
    let sizes: Map<String, Value> = names
        .iter()
        .map(|&n| (n.name().to_string(), json!(splits.get(n).len())))
        .collect();
    let labels: Map<String, Value> = names
        .iter()
        .map(|&n| {
            (
                n.name().to_string(),
                labels_json(&label_summary(data, splits.get(n))),
            )
        })
        .collect();
    let files: Map<String, Value> = data
        .parts
        .iter()
        .map(|p| (p.part.name().to_string(), json!(p.file)))
        .collect();
    let mut report = json!({
        "task": data.info.name,
        "protocol": splits.protocol,
        "seed": args.seed,
        "splits": sizes,
        "labels": labels,
        "notes": splits.notes,
        "files": files,
        "metrics": data.info.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
    });
    if let Some(tokens) = tokens {
        let per_split: Map<String, Value> = tokens
            .splits
            .iter()
            .map(|(n, stats)| {
                (
                    n.name().to_string(),
                    serde_json::to_value(stats).unwrap_or(Value::Null),
                )
            })
            .collect();
        report["tokens"] = json!({
            "model_type": tokens.model_type,
            "formulation": formulation_name(tokens.options.formulation),
            "max_length": tokens.options.max_length,
            "seconds": tokens.seconds,
            "cache": tokens.cache,
            "splits": per_split,
        });
    }
    report
}

fn formulation_name(formulation: Formulation) -> &'static str {
    match formulation {
        Formulation::TextToText(_) => "text_to_text",
        Formulation::Encoder => "encoder",
    }
}

fn print_table(data: &TaskData, splits: &Splits, tokens: Option<&TokenReport>) {
    println!(
        "task {} — protocol: {}",
        data.info.name,
        protocol_text(splits)
    );
    for part in &data.parts {
        println!(
            "  {}: {} ({} examples)",
            part.part.name(),
            part.file,
            part.examples.len()
        );
    }
    println!();
    let names = splits.names();
    println!("{:<16} {:>9}  labels", "split", "examples");
    for &name in &names {
        let labels = match label_summary(data, splits.get(name)) {
            LabelSummary::Classes(counts) => counts
                .iter()
                .map(|(label, n)| format!("{label}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            LabelSummary::Scores { min, mean, max, .. } => {
                format!("score min {min:.2}, mean {mean:.2}, max {max:.2}")
            }
            LabelSummary::Answers {
                queries,
                mean_candidates,
            } => format!("{queries} queries, {mean_candidates:.1} candidate entities each"),
        };
        println!(
            "{:<16} {:>9}  {labels}",
            name.name(),
            splits.get(name).len()
        );
    }
    for note in &splits.notes {
        println!("note: {note}");
    }
    if let Some(tokens) = tokens {
        println!();
        println!(
            "tokens ({} model, {} formulation, max length {}; tokenised in {:.2} s, cache {}):",
            if tokens.model_type.is_empty() {
                "unknown"
            } else {
                &tokens.model_type
            },
            formulation_name(tokens.options.formulation),
            tokens.options.max_length,
            tokens.seconds,
            tokens.cache
        );
        println!(
            "{:<16} {:>9} {:>7} {:>7} {:>7} {:>7} {:>10}",
            "split", "inputs", "mean", "median", "p95", "max", "truncated"
        );
        for (name, s) in &tokens.splits {
            println!(
                "{:<16} {:>9} {:>7.1} {:>7} {:>7} {:>7} {:>10}",
                name.name(),
                s.inputs,
                s.mean,
                s.median,
                s.p95,
                s.max,
                s.truncated
            );
        }
    }
}

fn protocol_text(splits: &Splits) -> &'static str {
    use bipeft_core::data::Protocol;
    match splits.protocol {
        Protocol::Small => "small (dev split 50/50 into validation and test)",
        Protocol::Large => {
            "large (2,000 training examples held out as validation; dev is the test set)"
        }
        Protocol::Given => "given (train, dev and test files as provided)",
        Protocol::TrainOnly => "train only (validation and test held out from train)",
    }
}

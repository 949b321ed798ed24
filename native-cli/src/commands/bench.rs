//! `bipeft bench`: how fast one training step runs on a BERT-family model
//! (all-MiniLM-L6-v2 in the issue) on each CPU backend, and how much memory it
//! takes:
//!
//! - `lora`: a plain LoRA step, r = 8 on all six linears of every block,
//!   frozen backbone, forward + backward + AdamW;
//! - `search`: one iteration of the search on the S1 supernet, an
//!   architecture step and a weight step ([`BilevelSearch::step`]).
//!
//! Both on a synthetic batch of `--batch` sequences of `--seq-len` tokens.
//! Each (backend, step) pair runs in its own child process, so that its peak
//! resident memory (`VmHWM` of `/proc/self/status`) is its own; the time is
//! the median of `--steps` steps after `--warmup`, each ended by a device sync.
//!
//! With `--peer PYTHON`, PyTorch + `peft`'s LoRA step on the same model runs
//! in the same bench, alternating with ours for `--rounds` rounds, and the
//! ratios and achieved GFLOP/s are printed ([`peer`]).

mod peer;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use bipeft_core::backbone::{bert, BackboneConfig};
use bipeft_core::data::{LabelSpace, TensorBatch, TensorTargets};
use bipeft_core::loader::ModelFiles;
use bipeft_core::peft::PeftOptions;
use bipeft_core::search::sample::fixed_sample;
use bipeft_core::search::{BilevelSearch, SearchConfig};
use bipeft_core::space::{presets, Catalogue, SpaceDef};
use bipeft_core::task_model::{search_slots, TaskModel};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::Backend;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use futures_lite::future::block_on;
use serde::{Deserialize, Serialize};

use crate::backend::{with_backend, BackendArgs, BackendKind, BackendRun};

#[derive(clap::Args)]
pub struct Args {
    /// Hugging Face BERT-family model directory (all-MiniLM-L6-v2 for the reference figures).
    #[arg(long)]
    pub model: PathBuf,
    /// Backends to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BackendKind::Flex, BackendKind::Candle])]
    pub backends: Vec<BackendKind>,
    /// Which steps: `lora`, `search`, or both.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [StepKind::Lora, StepKind::Search])]
    pub kinds: Vec<StepKind>,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 64)]
    pub seq_len: usize,
    /// Print the figures as JSON on stdout (`{bipeft: [...], peer: [...]}`)
    /// instead of the tables; progress stays on stderr.
    #[arg(long)]
    pub json: bool,
    /// A Python with torch, transformers and peft: also measure PyTorch +
    /// peft's LoRA step on the same model, batch and threads, alternating
    /// with ours, and print the ratios (opt-in).
    #[arg(long, value_name = "PYTHON")]
    pub peer: Option<PathBuf>,
    /// With --peer: how many times to alternate ours and the peer's.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// With --peer: the peer's threads (default: the cores this process may use, as burn's).
    #[arg(long)]
    pub threads: Option<usize>,
    /// With --peer: the machine's peak f32 GFLOP/s (default: estimated from /proc/cpuinfo).
    #[arg(long)]
    pub peak_gflops: Option<f64>,
    /// Internal: measure one `backend:kind` in this process and print its JSON.
    #[arg(long, hide = true)]
    pub one: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Lora,
    Search,
}

/// The figures of one (backend, step) pair.
#[derive(Serialize, Deserialize)]
struct Figures {
    backend: String,
    step: StepKind,
    batch: usize,
    seq_len: usize,
    steps: usize,
    warmup: usize,
    /// Median and extremes of the timed steps.
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    /// Peak resident memory of the process (model load included).
    peak_rss_mb: f64,
    /// Parameters that get gradients.
    trainable_params: u64,
    /// Where a step's time goes: median ms of each section (each ended by a
    /// device sync, so the sections add up to a little more than the step).
    sections: Vec<(String, f64)>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if let Some(one) = &args.one {
        let (backend, kind) = parse_one(one)?;
        let backend_args = BackendArgs {
            backend,
            device: "cpu".into(),
        };
        let figures = with_backend(
            &backend_args,
            Measure {
                args: &args,
                kind,
                backend,
            },
        )?;
        println!("{}", serde_json::to_string(&figures)?);
        return Ok(());
    }
    let exe = std::env::current_exe().context("cannot find the bipeft executable")?;
    let rounds = if args.peer.is_some() {
        args.rounds.max(1)
    } else {
        1
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut all = Vec::new();
    let mut peers = Vec::new();
    for round in 1..=rounds {
        for &backend in &args.backends {
            for &kind in &args.kinds {
                all.push(measure_child(&exe, &args, backend, kind, round, rounds)?);
            }
        }
        if let Some(python) = &args.peer {
            eprintln!("measuring pytorch:lora (round {round} of {rounds}) ...");
            let shape = peer::StepShape {
                batch: args.batch,
                seq_len: args.seq_len,
                steps: args.steps,
                warmup: args.warmup,
                threads,
            };
            peers.push(peer::measure(python, &args.model, &shape)?);
        }
    }
    if args.json {
        let json = serde_json::json!({ "bipeft": all, "peer": peers });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    print_tables(&all);
    if !peers.is_empty() {
        compare(&args, &all, &peers, threads)?;
    }
    Ok(())
}

fn print_tables(all: &[Figures]) {
    println!(
        "{:<8} {:<7} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "backend", "step", "median ms", "min ms", "max ms", "peak RSS MB", "trainable"
    );
    for f in all {
        println!(
            "{:<8} {:<7} {:>10.0} {:>10.0} {:>10.0} {:>12.0} {:>12}",
            f.backend,
            kind_name(f.step),
            f.median_ms,
            f.min_ms,
            f.max_ms,
            f.peak_rss_mb,
            f.trainable_params
        );
    }
    println!("where the time goes (median ms per section):");
    for f in all {
        let parts: Vec<String> = f
            .sections
            .iter()
            .map(|(name, ms)| format!("{name} {ms:.0}"))
            .collect();
        println!(
            "  {} {}: {}",
            f.backend,
            kind_name(f.step),
            parts.join(", ")
        );
    }
}

/// Measures one (backend, step) in a child process of this binary.
fn measure_child(
    exe: &std::path::Path,
    args: &Args,
    backend: BackendKind,
    kind: StepKind,
    round: usize,
    rounds: usize,
) -> anyhow::Result<Figures> {
    let name = format!("{}:{}", backend_name(backend), kind_name(kind));
    if rounds > 1 {
        eprintln!("measuring {name} (round {round} of {rounds}) ...");
    } else {
        eprintln!("measuring {name} ...");
    }
    let output = Command::new(exe)
        .arg("bench")
        .arg("--model")
        .arg(&args.model)
        .args(["--one", &name])
        .args(["--steps", &args.steps.to_string()])
        .args(["--warmup", &args.warmup.to_string()])
        .args(["--batch", &args.batch.to_string()])
        .args(["--seq-len", &args.seq_len.to_string()])
        .output()
        .context("cannot run the measuring process")?;
    if !output.status.success() {
        bail!(
            "measuring {name} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("measuring {name}: unreadable result"))
}

/// Ours against the peer's LoRA step: the ratio of each of our medians to
/// the peer's median of the same round, memory likewise, and the GFLOP/s
/// each achieves against the machine's peak.
fn compare(
    args: &Args,
    ours: &[Figures],
    peers: &[peer::PeerFigures],
    threads: usize,
) -> anyhow::Result<()> {
    let files = ModelFiles::from_dir(&args.model)?;
    let shape = BackboneConfig::from_json(&files.config_json)?.shape();
    let flops = peer::lora_step_flops(&shape, args.batch, args.seq_len);
    let peak = match args.peak_gflops {
        Some(p) => Some((p, "--peak-gflops".to_string())),
        None => peer::machine_peak_gflops(threads),
    };
    println!();
    println!(
        "against {} ({} threads): one LoRA step is {:.3} GFLOP (forward + input-gradient backward of the \
         six linears and the attention products; a search step is two such passes through the supernet)",
        peers[0].backend,
        peers[0].threads,
        flops / 1e9
    );
    if let Some((p, how)) = &peak {
        println!("machine peak: {p:.0} GFLOP/s ({how})");
    }
    if let Some(lora) = ours.iter().find(|f| f.step == StepKind::Lora) {
        println!(
            "trainable parameters of the LoRA step: ours {}, the peer's {} (LoRA + pooler + classifier)",
            lora.trainable_params, peers[0].trainable_params
        );
    }
    let per_round = ours.len() / peers.len();
    println!(
        "{:<6} {:<8} {:<7} {:>10} {:>10} {:>8} {:>9} {:>9}",
        "round", "backend", "step", "median ms", "peer ms", "× peer", "memory ×", "GFLOP/s"
    );
    for (round, (chunk, p)) in ours.chunks(per_round).zip(peers).enumerate() {
        let gflops = |ms: f64, passes: f64| passes * flops / 1e9 / (ms / 1e3);
        for f in chunk {
            let passes = if f.step == StepKind::Search { 2.0 } else { 1.0 };
            println!(
                "{:<6} {:<8} {:<7} {:>10.0} {:>10.0} {:>8.2} {:>9.2} {:>9.1}",
                round + 1,
                f.backend,
                kind_name(f.step),
                f.median_ms,
                p.median_ms,
                f.median_ms / p.median_ms,
                f.peak_rss_mb / p.peak_rss_mb,
                gflops(f.median_ms, passes)
            );
        }
        println!(
            "{:<6} {:<8} {:<7} {:>10.0} {:>10} {:>8} {:>9} {:>9.1}",
            round + 1,
            "pytorch",
            "lora",
            p.median_ms,
            "",
            "",
            "",
            gflops(p.median_ms, 1.0)
        );
    }
    if let Some((p, _)) = peak {
        let best = peers
            .iter()
            .map(|f| f.median_ms)
            .fold(f64::INFINITY, f64::min);
        println!(
            "PyTorch's best round reaches {:.0}% of the peak",
            100.0 * flops / 1e9 / (best / 1e3) / p
        );
    }
    Ok(())
}

fn backend_name(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Flex => "flex",
        BackendKind::Candle => "candle",
    }
}

fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Lora => "lora",
        StepKind::Search => "search",
    }
}

fn parse_one(text: &str) -> anyhow::Result<(BackendKind, StepKind)> {
    let (backend, kind) = text.split_once(':').context("--one takes backend:step")?;
    let backend = match backend {
        "flex" => BackendKind::Flex,
        "candle" => BackendKind::Candle,
        other => bail!("unknown backend `{other}`"),
    };
    let kind = match kind {
        "lora" => StepKind::Lora,
        "search" => StepKind::Search,
        other => bail!("unknown step `{other}`"),
    };
    Ok((backend, kind))
}

struct Measure<'a> {
    args: &'a Args,
    kind: StepKind,
    backend: BackendKind,
}

impl BackendRun for Measure<'_> {
    type Output = Figures;
    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Figures> {
        measure::<Autodiff<B>>(self.args, self.kind, self.backend, device)
    }
}

fn measure<B: AutodiffBackend>(
    args: &Args,
    kind: StepKind,
    backend: BackendKind,
    device: B::Device,
) -> anyhow::Result<Figures> {
    let files = ModelFiles::from_dir(&args.model)
        .with_context(|| format!("reading the model in {}", args.model.display()))?;
    let config = BackboneConfig::from_json(&files.config_json)?;
    let BackboneConfig::Bert(bert_config) = &config else {
        bail!("bipeft bench measures a BERT-family model (all-MiniLM-L6-v2)");
    };
    let prefix = bert::detect_prefix(&files.weights)?;
    let space = match kind {
        StepKind::Lora => {
            let mut space = presets::lora();
            space.ranks = vec![8];
            for rule in &mut space.rules {
                rule.ranks = vec![8];
            }
            space
        }
        StepKind::Search => SpaceDef::resolve("s1")?,
    };
    let catalogue = Catalogue::build(
        &config.shape(),
        &space,
        &PeftOptions::default(),
        config.site_namer(&prefix),
    )?;
    let labels = LabelSpace::Classes(vec!["0".into(), "1".into()]);
    B::seed(&device, 7);
    let model = TaskModel::<B>::new(&config, &files.weights, &catalogue, &labels, false, &device)?;
    let batch = synthetic_batch::<B>(args.batch, args.seq_len, bert_config.vocab_size, &device);
    let trainable = trainable_count(&model);

    let sync = || B::sync(&device).map_err(|e| anyhow::anyhow!("device sync: {e:?}"));
    let mut times = Vec::with_capacity(args.steps);
    let mut sections = Sections::default();
    match kind {
        StepKind::Lora => {
            let slots = catalogue.slots().len();
            let ranked = (0..slots)
                .filter(|&s| catalogue.rank_row(s).is_some())
                .count();
            let sample = fixed_sample::<B>(&vec![true; slots], &vec![0; ranked], 1, &device);
            let gates = model.gates(&sample);
            let mut optim = AdamWConfig::new().with_weight_decay(1e-4).init();
            let mut model = model;
            for i in 0..args.warmup + args.steps {
                let timed = i >= args.warmup;
                let started = Instant::now();
                let loss = model.loss_with(&batch, &gates)?;
                sync()?;
                sections.add(timed, "forward", started);
                let at = Instant::now();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                sync()?;
                sections.add(timed, "backward", at);
                let at = Instant::now();
                model = optim.step(3e-4, model, grads);
                sync()?;
                sections.add(timed, "adamw", at);
                if timed {
                    times.push(started.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        StepKind::Search => {
            let slots = search_slots(&catalogue, false)?;
            // Early selection off: the steps before the selection begins, as
            // the figures have always been measured.
            let config = SearchConfig::new(u64::MAX / 4)
                .with_epochs(1)
                .with_selection(None);
            let mut search = BilevelSearch::new(model, slots.clone(), config, 1000, &device)?;
            let all_on = fixed_sample::<B::InnerBackend>(
                &vec![true; slots.len()],
                &vec![slots.candidates() - 1; slots.ranked_len()],
                slots.candidates(),
                &device,
            );
            let inner_batch = synthetic_batch::<B::InnerBackend>(
                args.batch,
                args.seq_len,
                bert_config.vocab_size,
                &device,
            );
            for i in 0..args.warmup + args.steps {
                let timed = i >= args.warmup;
                let started = Instant::now();
                block_on(search.arch_step(&batch, 0))?;
                sync()?;
                sections.add(timed, "architecture step", started);
                let at = Instant::now();
                block_on(search.weight_step(&batch, 0))?;
                sync()?;
                sections.add(timed, "weight step", at);
                if timed {
                    times.push(started.elapsed().as_secs_f64() * 1e3);
                }
                // Outside the step: the supernet's forward alone, every slot on
                // at its largest rank, to split forward from backward. On the
                // inner backend: an autodiff forward that no backward consumes
                // keeps its saved activations until the next backward (burn
                // frees orphaned graphs only then), so it would sit in memory
                // through the next step and double the step's peak.
                let at = Instant::now();
                let inner = search.model().valid();
                let loss = inner.loss_with(&inner_batch, &inner.gates(&all_on))?;
                drop(loss);
                sync()?;
                sections.add(timed, "supernet forward (not in the step)", at);
            }
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = median(&times);
    Ok(Figures {
        backend: backend_name(backend).into(),
        step: kind,
        batch: args.batch,
        seq_len: args.seq_len,
        steps: args.steps,
        warmup: args.warmup,
        median_ms: median,
        min_ms: sorted[0],
        max_ms: sorted[sorted.len() - 1],
        peak_rss_mb: peak_rss_mb().unwrap_or(f64::NAN),
        trainable_params: trainable,
        sections: sections.medians(),
    })
}

/// Section timings in order of first appearance.
#[derive(Default)]
struct Sections(Vec<(String, Vec<f64>)>);

impl Sections {
    fn add(&mut self, timed: bool, name: &str, since: Instant) {
        if !timed {
            return;
        }
        let ms = since.elapsed().as_secs_f64() * 1e3;
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(ms),
            None => self.0.push((name.to_string(), vec![ms])),
        }
    }

    fn medians(&self) -> Vec<(String, f64)> {
        self.0
            .iter()
            .map(|(name, v)| (name.clone(), median(v)))
            .collect()
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// A batch of random token ids (no padding) with random binary labels, from
/// a fixed linear congruential sequence.
fn synthetic_batch<B: Backend>(
    batch: usize,
    seq_len: usize,
    vocab: usize,
    device: &B::Device,
) -> TensorBatch<B> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % bound.max(1)
    };
    // Ids above the special tokens (the first 1000 of BERT vocabularies; the
    // first half of a tiny one).
    let first = 1000.min(vocab / 2);
    let ids: Vec<i64> = (0..batch * seq_len)
        .map(|_| (first + next(vocab - first)) as i64)
        .collect();
    let labels: Vec<i64> = (0..batch).map(|_| next(2) as i64).collect();
    let int2 = |values: Vec<i64>| {
        Tensor::<B, 2, Int>::from_data(TensorData::new(values, [batch, seq_len]), device)
    };
    TensorBatch {
        input_ids: int2(ids),
        token_type_ids: int2(vec![0; batch * seq_len]),
        attention_mask: int2(vec![1; batch * seq_len]),
        targets: TensorTargets::Classes(Tensor::from_data(
            TensorData::new(labels, [batch]),
            device,
        )),
    }
}

/// Number of parameters that require gradients.
fn trainable_count<B: Backend, M: burn::module::Module<B>>(module: &M) -> u64 {
    struct Count(u64);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Count {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
            let value = param.val();
            if value.is_require_grad() {
                self.0 += value.dims().iter().product::<usize>() as u64;
            }
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}

/// Peak resident set size of this process in MB (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

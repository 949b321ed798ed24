//! `bipeft search` checkpoints: a run killed with SIGKILL after its first
//! checkpoint and continued with `--resume RUN_DIR` ends with the very
//! configuration of an uninterrupted run (and is refused when its data
//! changed); finished and unfinished run directories are protected. Tiny T5 on a 100-line copy of SST-2: seconds.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use common::root;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bipeft-search-resume-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The first 100 examples of each SST-2 file: loading stays instant.
fn small_sst2(dir: &Path) -> PathBuf {
    let data = dir.join("SST-2");
    std::fs::create_dir_all(&data).unwrap();
    let source = root().join("../shared/data/glue/SST-2");
    for file in ["train.tsv", "dev.tsv"] {
        let text = std::fs::read_to_string(source.join(file)).unwrap();
        let head: Vec<&str> = text.lines().take(101).collect();
        std::fs::write(data.join(file), head.join("\n") + "\n").unwrap();
    }
    data
}

fn search_command(data: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bipeft"));
    command
        .arg("search")
        .arg("--model")
        .arg(root().join("tests/fixtures/t5/tiny-t5-tok"))
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args([
            "--task",
            "sst2",
            "--space",
            "lora",
            "--budget",
            "2000",
            "--max-train-examples",
            "64",
            "--epochs",
            "4",
            "--batch-size",
            "8",
            "--max-length",
            "16",
            "--selection-start-epoch",
            "1",
            "--max-selection-steps",
            "3",
            "--trigger-threshold",
            "0.5",
            "--quiet",
        ]);
    command
}

fn run_ok(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_killed_search_resumes_to_the_uninterrupted_result() {
    let dir = scratch("kill");
    let data = small_sst2(&dir);

    let whole = dir.join("whole");
    run_ok(&mut search_command(&data, &whole));
    let expected = json(&whole.join("peft_config.json"));
    let expected_steps = json(&whole.join("search_trace.json"))["steps"]
        .as_array()
        .unwrap()
        .len();

    let killed = dir.join("killed");
    let mut child = search_command(&data, &killed)
        .args(["--checkpoint-every", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = killed.join("search_checkpoint.bin");
    let started = Instant::now();
    while !checkpoint.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !killed.join("peft_config.json").exists(),
        "the run finished before it was killed"
    );

    // Starting afresh over the unfinished run is refused.
    let output = search_command(&data, &killed).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--resume"), "{stderr}");

    let mut resume = Command::new(env!("CARGO_BIN_EXE_bipeft"));
    resume
        .arg("search")
        .arg("--resume")
        .arg(&killed)
        .arg("--quiet");

    // The data changed under the run: resuming it is refused.
    let train = data.join("train.tsv");
    let original = std::fs::read_to_string(&train).unwrap();
    std::fs::write(&train, format!("{original}a newly added sentence\t1\n")).unwrap();
    let output = resume.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("changed since this search started"), "{stderr}");
    std::fs::write(&train, original).unwrap();

    run_ok(&mut resume);
    let config = json(&killed.join("peft_config.json"));
    assert_eq!(config, expected, "same configuration as without the kill");
    assert!(config["trainable_params"].as_u64().unwrap() <= 2000);
    let trace = json(&killed.join("search_trace.json"));
    assert_eq!(trace["steps"].as_array().unwrap().len(), expected_steps);
    // A write the kill interrupted left a temporary file at most; the resumed
    // run's writes removed it (the killed process is gone).
    let left: Vec<String> = std::fs::read_dir(&killed)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A finished run is not resumed again.
    let output = resume.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("finished run"), "{stderr}");

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_without_a_checkpoint_is_one_clear_error() {
    let dir = scratch("none");
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_bipeft"))
        .arg("search")
        .arg("--resume")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no checkpoint"), "{stderr}");
    std::fs::write(dir.join("search_checkpoint.bin"), b"not msgpack").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_bipeft"))
        .arg("search")
        .arg("--resume")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("checkpoint"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

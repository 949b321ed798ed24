//! `bipeft bench --peer`: the plumbing of the side-by-side run (alternating
//! rounds, ratios, GFLOP/s) on the tiny BERT, with a stand-in for the
//! PyTorch peer that prints a fixed result. The real peer is
//! `tests/peer/lora_step.py` under a Python with torch + peft.

mod common;

use common::*;

#[cfg(unix)]
#[test]
fn a_peer_runs_beside_ours_round_by_round() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp("bench-peer");
    std::fs::create_dir_all(&dir).unwrap();
    // The stand-in checks that it is given the script and the model, and
    // counts its runs.
    let peer = dir.join("python");
    let runs = dir.join("runs");
    std::fs::write(
        &peer,
        format!(
            "#!/bin/sh\ncase \"$1\" in *lora_step.py) ;; *) exit 3;; esac\n\
             [ \"$2\" = --model ] || exit 4\necho run >> '{}'\n\
             echo '{{\"backend\":\"pytorch stand-in\",\"median_ms\":100.0,\"min_ms\":90.0,\"max_ms\":110.0,\
             \"peak_rss_mb\":200.0,\"trainable_params\":1000,\"threads\":2}}'\n",
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&peer, std::fs::Permissions::from_mode(0o755)).unwrap();
    let model = tiny_bert();
    let out = ok(&[
        "bench",
        "--model",
        s(&model),
        "--backends",
        "flex",
        "--kinds",
        "lora",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--batch",
        "2",
        "--seq-len",
        "8",
        "--peer",
        s(&peer),
        "--rounds",
        "2",
        "--threads",
        "2",
        "--peak-gflops",
        "100",
    ]);
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 2);
    assert!(
        out.contains("against pytorch stand-in (2 threads)"),
        "{out}"
    );
    assert!(
        out.contains("machine peak: 100 GFLOP/s (--peak-gflops)"),
        "{out}"
    );
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(char::is_numeric) && l.split_whitespace().nth(1) == Some("flex"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    for row in rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        // round, backend, step, median, peer ms (100), × peer = median / 100.
        let median: f64 = cells[3].parse().unwrap();
        assert_eq!(cells[4], "100");
        let ratio: f64 = cells[5].parse().unwrap();
        assert!((ratio - median / 100.0).abs() < 0.011, "{row}");
        let memory: f64 = cells[6].parse().unwrap();
        assert!(memory > 0.0, "{row}");
    }
    let pytorch_rows = out
        .lines()
        .filter(|l| {
            l.starts_with(char::is_numeric) && l.split_whitespace().nth(1) == Some("pytorch")
        })
        .count();
    assert_eq!(pytorch_rows, 2, "{out}");
    // --json: the same figures as JSON on stdout, nothing else there.
    let json = ok(&[
        "bench", "--model", s(&model), "--backends", "flex", "--kinds", "lora,search", "--steps", "1",
        "--warmup", "0", "--batch", "2", "--seq-len", "8", "--peer", s(&peer), "--rounds", "1",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    // The LoRA step and the search step, each measured.
    assert_eq!(json["bipeft"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(json["bipeft"][1]["step"], "search", "{json}");
    assert_eq!(json["peer"][0]["median_ms"], 100.0, "{json}");
    std::fs::remove_dir_all(&dir).unwrap();
}

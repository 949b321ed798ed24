//! `bipeft bench --peer PYTHON`: PyTorch + Hugging Face `peft`'s LoRA step on
//! the same model, batch and threads, run in the same bench, alternating with
//! ours, and the ratios and achieved GFLOP/s of each against the machine's
//! peak. The script is `tests/peer/lora_step.py`, built into the binary.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};
use bipeft_core::space::BackboneShape;
use serde::{Deserialize, Serialize};

/// The peer's script, written to a temporary file for each run.
const SCRIPT: &str = include_str!("../../../../tests/peer/lora_step.py");

/// What the peer measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerFigures {
    pub backend: String,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub peak_rss_mb: f64,
    pub trainable_params: u64,
    pub threads: usize,
}

/// The sizes of the step.
pub struct StepShape {
    pub batch: usize,
    pub seq_len: usize,
    pub steps: usize,
    pub warmup: usize,
    pub threads: usize,
}

/// Runs the PyTorch LoRA step with `python` on the model in `model`.
pub fn measure(python: &Path, model: &Path, shape: &StepShape) -> anyhow::Result<PeerFigures> {
    let dir = std::env::temp_dir().join(format!("bipeft-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let script = dir.join("lora_step.py");
    std::fs::write(&script, SCRIPT)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let output = Command::new(python)
        .arg(&script)
        .arg("--model")
        .arg(model)
        .args(["--steps", &shape.steps.to_string()])
        .args(["--warmup", &shape.warmup.to_string()])
        .args(["--batch", &shape.batch.to_string()])
        .args(["--seq-len", &shape.seq_len.to_string()])
        .args(["--threads", &shape.threads.to_string()])
        .output()
        .with_context(|| format!("cannot run --peer {}", python.display()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = output?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        bail!(
            "the PyTorch peer failed ({}): {last} (--peer needs a Python with torch, transformers and peft)",
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line)
        .with_context(|| format!("the PyTorch peer printed no result: {stdout}"))
}

/// FLOPs of one LoRA training step on an encoder of `model`'s shape, as this
/// bench counts them: a forward pass — 2 FLOPs per multiply-add of the six
/// linears of every block over every token, plus the attention's two
/// `seq × seq` products — and a backward pass of the same count (a frozen
/// backbone needs the gradients of its inputs only, not of its weights).
/// LoRA's own rank-8 products, the embeddings, norms and the head are left
/// out (under 2 % here).
pub fn lora_step_flops(model: &BackboneShape, batch: usize, seq_len: usize) -> f64 {
    let (d, ff, layers) = (
        model.d_model as f64,
        model.d_ff as f64,
        model.encoder_layers as f64,
    );
    let tokens = (batch * seq_len) as f64;
    let linears = layers * (4.0 * d * d + 2.0 * d * ff);
    let attention = layers * 2.0 * 2.0 * batch as f64 * (seq_len * seq_len) as f64 * d;
    let forward = 2.0 * tokens * linears + attention;
    2.0 * forward
}

/// The machine's peak f32 GFLOP/s as this bench assumes it: cores × FLOPs
/// per cycle (32 with AVX2 + FMA: two 8-wide fused multiply-adds; 16 with
/// AVX; 8 otherwise) × the clock `/proc/cpuinfo` reports, and how it got it.
pub fn machine_peak_gflops(cores: usize) -> Option<(f64, String)> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz = info
        .lines()
        .filter(|l| l.starts_with("cpu MHz"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .fold(f64::NAN, f64::max);
    if !mhz.is_finite() {
        return None;
    }
    let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let per_cycle = if has("avx2") && has("fma") {
        32.0
    } else if has("avx") {
        16.0
    } else {
        8.0
    };
    let peak = cores as f64 * per_cycle * mhz / 1e3;
    Some((
        peak,
        format!(
            "{cores} cores × {per_cycle:.0} f32 FLOPs per cycle × {:.2} GHz",
            mhz / 1e3
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// all-MiniLM-L6-v2 (6 × 384, FFN 1536) on 32 × 64 tokens, by hand:
    /// linears 6·(4·384² + 2·384·1536) = 10,616,832 multiply-adds per token;
    /// forward 2·2048·10,616,832 + 6·4·32·64²·384 = 43,486,543,872 +
    /// 1,207,959,552; the step is twice that.
    #[test]
    fn flops_of_a_minilm_step_by_hand() {
        let shape = BackboneShape {
            model_type: "bert".into(),
            family: bipeft_core::space::Family::Encoder,
            d_model: 384,
            d_ff: 1536,
            d_kv: 32,
            heads: 12,
            encoder_layers: 6,
            decoder_layers: 0,
            gated_ffn: false,
            linear_biases: true,
            vocab: 30522,
            backbone_params: 22_713_216,
        };
        let flops = lora_step_flops(&shape, 32, 64);
        assert_eq!(flops, 2.0 * (43_486_543_872.0 + 1_207_959_552.0));
    }
}

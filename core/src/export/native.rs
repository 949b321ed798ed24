//! bipeft's own format: the trained result's files as they are
//! (`peft_config.json`, `trained.json`, `weights.safetensors`, and
//! `metrics.json` when there is one), every module kind included. The copy is
//! read back by [`Trained::read`](crate::train::Trained::read), so it can be
//! evaluated or exported again; the checkpoint stays behind.

use std::path::Path;

use crate::error::{Error, Result};
use crate::train::atomic::write_atomic;
use crate::train::trained::{Trained, METRICS_FILE};

/// Copies the result in `trained_dir` to `out`; returns the files written.
pub fn export_bipeft(trained_dir: &Path, out: &Path) -> Result<Vec<String>> {
    // Reading it first checks that it is a whole result.
    let trained = Trained::read(trained_dir)?;
    trained.write(out)?;
    let mut files = vec![
        crate::train::trained::WEIGHTS_FILE.to_string(),
        crate::train::trained::CONFIG_FILE.to_string(),
        crate::train::trained::MANIFEST_FILE.to_string(),
    ];
    let metrics = trained_dir.join(METRICS_FILE);
    if metrics.is_file() {
        let bytes = std::fs::read(&metrics).map_err(|e| Error::io(&metrics, e))?;
        write_atomic(&out.join(METRICS_FILE), &bytes)?;
        files.push(METRICS_FILE.into());
    }
    Ok(files)
}

//! Where bipeft keeps what it can fetch or compute again (the demo's model
//! and data, tokenised tasks): `$BIPEFT_CACHE`, else
//! `$XDG_CACHE_HOME/bipeft`, else `~/.cache/bipeft`. One rule for every
//! command; `tests/fetch-minilm.sh` and the tests follow it too.

use std::path::PathBuf;

use anyhow::Context;

/// The cache folder (not created here).
pub fn cache_dir() -> anyhow::Result<PathBuf> {
    let set = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = set("BIPEFT_CACHE") {
        return Ok(dir);
    }
    let base = match set("XDG_CACHE_HOME") {
        Some(dir) => dir,
        None => set("HOME")
            .context("HOME is not set: set BIPEFT_CACHE to a folder for bipeft's cache")?
            .join(".cache"),
    };
    Ok(base.join("bipeft"))
}

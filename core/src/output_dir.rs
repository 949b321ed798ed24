//! The one rule for a command's output folder: bipeft writes only into a
//! folder that is absent, empty, or holds a run of the same command (which
//! `--force` may then replace). A folder holding anything else is the
//! user's, and nothing in it is overwritten.

use std::path::Path;

use crate::error::{Error, Result};

/// Checks `out` before `command` writes into it; `marks` are files only
/// that command writes (one of them names a folder as its run).
pub fn check_output_dir(out: &Path, command: &str, marks: &[&str]) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(Error::InvalidInput(format!(
            "the output {} is a file, not a folder",
            out.display()
        )));
    }
    if marks.iter().any(|m| out.join(m).exists()) {
        return Ok(());
    }
    let mut others: Vec<String> = std::fs::read_dir(out)
        .map_err(|e| Error::Io {
            path: out.to_path_buf(),
            source: e,
        })?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    others.sort();
    let shown = others.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    let more = others.len().saturating_sub(3);
    Err(Error::InvalidInput(format!(
        "{} holds files that `bipeft {command}` did not write ({shown}{}); give an empty or new folder",
        out.display(),
        if more > 0 { format!(" and {more} more") } else { String::new() }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_empty_or_own_folders_only() {
        let root = std::env::temp_dir().join(format!("bipeft-outdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        check_output_dir(&root.join("new"), "search", &["search_trace.json"]).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        check_output_dir(&root.join("empty"), "search", &["search_trace.json"]).unwrap();
        let theirs = root.join("theirs");
        std::fs::create_dir_all(&theirs).unwrap();
        for f in ["README.md", "a.txt", "b.txt", "peft_config.json"] {
            std::fs::write(theirs.join(f), "x").unwrap();
        }
        let e = check_output_dir(&theirs, "retrain", &["trained.json"]).unwrap_err().to_string();
        assert!(
            e.ends_with("holds files that `bipeft retrain` did not write (README.md, a.txt, b.txt and 1 more); give an empty or new folder"),
            "{e}"
        );
        std::fs::write(theirs.join("trained.json"), "{}").unwrap();
        check_output_dir(&theirs, "retrain", &["trained.json"]).unwrap();
        let file = root.join("file");
        std::fs::write(&file, "x").unwrap();
        let e = check_output_dir(&file, "search", &[]).unwrap_err().to_string();
        assert!(e.contains("is a file, not a folder"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}

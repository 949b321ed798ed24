//! Whole-file writes: a sibling temporary file, flushed to disk, then renamed
//! over the target, so a run killed at any moment leaves either the old file
//! or the new one, never half of one. (Every result file of the library and
//! the CLI goes through here.)

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically, creating its folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidInput(format!("{} names no file", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    remove_stale_siblings(dir, &name.to_string_lossy());
    Ok(())
}

/// Removes the temporary files of `name` that killed processes left behind
/// (`.NAME.tmp-PID` whose process is gone). Only where a process's
/// existence can be told (Linux); a file that cannot be removed is left.
fn remove_stale_siblings(dir: &Path, name: &str) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Pretty JSON, written atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::InvalidInput(format!("cannot write {}: {e}", path.display())))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn replaces_the_file_whole_and_clears_what_killed_writers_left() {
        let dir = std::env::temp_dir().join(format!("bipeft-atomic-{}", std::process::id()));
        let path = dir.join("out.json");
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        // What a process killed mid-write left (its pid is long gone), and a
        // live process's file (this one's parent), which stays.
        let stale = dir.join(".out.json.tmp-4000000000");
        std::fs::write(&stale, "half").unwrap();
        let parent = std::os::unix::process::parent_id();
        let live = dir.join(format!(".out.json.tmp-{parent}"));
        std::fs::write(&live, "in progress").unwrap();
        write_json_atomic(&path, &serde_json::json!({"a": 2})).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["a"], 2);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        if cfg!(target_os = "linux") {
            assert_eq!(leftovers.len(), 1, "only the live process's file stays");
            assert_eq!(leftovers[0].path(), live);
        }
        std::fs::remove_file(&live).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! A cell being computed is claimed with a lock file beside its result,
//! `OUT/cells/<cell>.lock`, so that several runs of one plan (shards of a
//! job array, or a second run started by hand) never compute one cell twice.
//! A dead run's lock does not block forever: on the same host a lock whose
//! process is gone is stale; from another host, one whose heartbeat (the
//! file's modification time, renewed every minute while the cell runs) is
//! older than ten minutes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// How often a claim renews its heartbeat, and when another host's is stale.
const HEARTBEAT: Duration = Duration::from_secs(60);
const STALE_AFTER: Duration = Duration::from_secs(600);

#[derive(Serialize, Deserialize)]
struct Holder {
    host: String,
    pid: u32,
}

/// A held claim; dropping it ends the heartbeat and removes the lock.
pub struct Claim {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.heartbeat.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Claims the cell whose lock is `path`; `None` when a live run holds it.
pub fn claim(path: &Path) -> anyhow::Result<Option<Claim>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut file) => {
                let holder = Holder {
                    host: host(),
                    pid: std::process::id(),
                };
                file.write_all(serde_json::to_string(&holder)?.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                return Ok(Some(Claim {
                    path: path.to_path_buf(),
                    stop: Arc::new(AtomicBool::new(false)),
                    heartbeat: None,
                }
                .beating()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !is_stale(path) {
                    return Ok(None);
                }
                // A dead run's lock: take it over.
                let _ = std::fs::remove_file(path);
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    Ok(None)
}

impl Claim {
    fn beating(mut self) -> Claim {
        let (path, stop) = (self.path.clone(), self.stop.clone());
        self.heartbeat = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::park_timeout(HEARTBEAT);
                if let Ok(file) = std::fs::File::options().write(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
            }
        }));
        self
    }
}

/// Whether the lock at `path` was left by a run that is gone.
fn is_stale(path: &Path) -> bool {
    let holder: Option<Holder> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(h) = &holder {
        if h.host == host() && cfg!(target_os = "linux") {
            return !Path::new("/proc").join(h.pid.to_string()).exists();
        }
    }
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    // Unreadable or half-written (its writer died between create and write): by age too.
    age.is_some_and(|a| a > STALE_AFTER)
}

/// This machine's name (Linux: the kernel's hostname), to tell a lock of
/// this host from another's.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_and_a_dead_runs_lock_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("bipeft-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("cells/c.lock");
        let first = claim(&path).unwrap().expect("free");
        assert!(claim(&path).unwrap().is_none(), "held by a live run");
        drop(first);
        assert!(!path.exists(), "released");

        // A lock of this host whose process is gone.
        let dead = Holder {
            host: host(),
            pid: 4_000_000_000,
        };
        std::fs::write(&path, serde_json::to_string(&dead).unwrap()).unwrap();
        if cfg!(target_os = "linux") {
            let taken = claim(&path).unwrap().expect("a dead run's lock is stale");
            drop(taken);
        }
        // Another host's fresh lock holds; an old one does not.
        let other = Holder {
            host: "elsewhere".into(),
            pid: 1,
        };
        std::fs::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
        assert!(claim(&path).unwrap().is_none(), "another host's live heartbeat");
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(claim(&path).unwrap().is_some(), "a silent heartbeat is stale");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

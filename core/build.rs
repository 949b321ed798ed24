//! Names the build in experiment records: `BIPEFT_BUILD` is the commit the
//! source was built from (`git rev-parse --short=12 HEAD`), when it is a git
//! checkout; otherwise the records say nothing.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(commit) = commit {
        println!("cargo:rustc-env=BIPEFT_BUILD={commit}");
    }
}

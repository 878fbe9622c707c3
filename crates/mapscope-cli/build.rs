//! Puts the git commit into `mapscope --version`, when built from a git
//! checkout (a crates.io or tarball build says "commit unknown").

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
    let text = match commit {
        Some(c) if dirty => format!("{c}+changes"),
        Some(c) => c,
        None => "unknown".into(),
    };
    println!("cargo:rustc-env=MAPSCOPE_COMMIT={text}");
    // Rebuild when HEAD moves (worktrees keep HEAD in their own git dir).
    for p in ["HEAD", "index"] {
        if let Some(path) = git(&["rev-parse", "--git-path", p]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &head]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

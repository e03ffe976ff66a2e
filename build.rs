//! Names the git commit being built, for `imagegram_build_info` and
//! `--version`: `IMAGEGRAM_GIT_COMMIT` when set (a build without `.git`,
//! such as a container's), else what git says, else `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=IMAGEGRAM_GIT_COMMIT");
    let commit = std::env::var("IMAGEGRAM_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=IMAGEGRAM_GIT_COMMIT={commit}");
    // Built again when HEAD moves (a commit, a checkout); only files that
    // exist are named, since a missing one would rerun this every build.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = ["HEAD", "packed-refs"]
        .into_iter()
        .map(str::to_owned)
        .chain(branch);
    for path in watched {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            if std::path::Path::new(&file).exists() {
                println!("cargo:rerun-if-changed={file}");
            }
        }
    }
}

//! Plugins built in the test setup, outside the workspace: the `echo` fixture
//! against the first plugin-api (tests/fixtures/plugin-api-0.1.0), renumbered
//! when asked. Built once into target/fixtures and reused while the sources
//! are unchanged; a file lock keeps parallel test binaries from racing.

use dmconnect_e2e::target_dir;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn work_dir() -> PathBuf {
    let dir = target_dir().parent().expect("target").join("fixtures");
    std::fs::create_dir_all(&dir).expect("fixtures dir");
    dir
}

/// Copies `from` into `to` (files and directories), feeding every file into `hash`.
fn copy_tree(from: &Path, to: &Path, hash: &mut DefaultHasher) {
    std::fs::create_dir_all(to).expect("mkdir");
    let mut entries: Vec<_> = std::fs::read_dir(from).expect("read fixture").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let dest = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_tree(&p, &dest, hash);
        } else {
            let bytes = std::fs::read(&p).expect("read");
            bytes.hash(hash);
            if std::fs::read(&dest).ok().as_deref() != Some(&bytes[..]) {
                std::fs::write(&dest, &bytes).expect("write");
            }
        }
    }
}

/// A directory holding `libdmcap_echo.so` built against plugin-api `api_version`
/// (the 0.1.0 fixture, renumbered if another version is asked for).
pub fn echo_plugin(api_version: &str) -> PathBuf {
    let work = work_dir();
    let lock = std::fs::File::create(work.join(".lock")).expect("lock file");
    // SAFETY: flock on a descriptor we own; released when `lock` is dropped.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    let src = work.join(format!("src-{api_version}"));
    let mut hash = DefaultHasher::new();
    api_version.hash(&mut hash);
    copy_tree(&fixtures_src().join("plugin-api-0.1.0"), &src.join("plugin-api-0.1.0"), &mut hash);
    copy_tree(&fixtures_src().join("echo"), &src.join("echo"), &mut hash);
    let manifest = src.join("plugin-api-0.1.0/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let renumbered = text.replacen("version = \"0.1.0\"", &format!("version = \"{api_version}\""), 1);
    if renumbered != text {
        std::fs::write(&manifest, renumbered).expect("write manifest");
    }
    let out = work.join(format!("out-{api_version}"));
    let stamp = out.join("stamp");
    let want = format!("{:x}", hash.finish());
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(&want) && out.join("libdmcap_echo.so").exists() {
        return out;
    }
    let lockfile = src.join("echo/Cargo.lock");
    if !lockfile.exists() {
        // The workspace's pins: the same abi_stable, no network needed.
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"), &lockfile).expect("lock");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(src.join("echo/Cargo.toml"))
        .arg("--target-dir")
        .arg(work.join("target"))
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the echo fixture against plugin-api {api_version} failed");
    std::fs::create_dir_all(&out).expect("out dir");
    std::fs::copy(work.join("target/debug/libdmcap_echo.so"), out.join("libdmcap_echo.so")).expect("copy .so");
    std::fs::write(&stamp, want).expect("stamp");
    out
}

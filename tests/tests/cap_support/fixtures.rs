//! Plugins built in the test setup, outside the workspace: the `echo` fixture
//! against the first plugin-api (tests/fixtures/plugin-api-0.1.0), renumbered
//! when asked; a second version of `examples/dice`; `examples/template` as an
//! author copies it. Built once into target/fixtures and reused while the sources
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

/// Copies `from` into `to` (files and directories; with `to == None` only
/// reads), feeding every file into `hash`.
fn copy_tree(from: &Path, to: Option<&Path>, hash: &mut DefaultHasher) {
    if let Some(to) = to {
        std::fs::create_dir_all(to).expect("mkdir");
    }
    let mut entries: Vec<_> = std::fs::read_dir(from).expect("read fixture").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().expect("name");
        let dest = to.map(|t| t.join(name));
        if name == "target" {
            continue;
        }
        if p.is_dir() {
            copy_tree(&p, dest.as_deref(), hash);
            continue;
        }
        let bytes = std::fs::read(&p).expect("read");
        bytes.hash(hash);
        if let Some(dest) = dest.filter(|d| std::fs::read(d).ok().as_deref() != Some(&bytes[..])) {
            std::fs::write(&dest, &bytes).expect("write");
        }
    }
}

/// The workspace's `plugin-api` directory.
fn plugin_api_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-api").canonicalize().expect("plugin-api dir")
}

/// A crate to build outside the workspace: its sources, and text edits to its files.
struct Fixture<'a> {
    /// Directory under target/fixtures for this build.
    tag: String,
    /// (source directory, its name in the build directory).
    trees: Vec<(PathBuf, &'a str)>,
    /// Directories the build reads in place (the workspace's plugin-api): hashed, not copied.
    uses: Vec<PathBuf>,
    /// (file in the build directory, from, to): applied once after copying.
    edits: Vec<(&'a str, String, String)>,
    /// The crate to build (a directory in the build directory).
    krate: &'a str,
    /// The library it makes.
    so: &'a str,
}

/// Builds a fixture once (again only when its sources change); returns the directory holding its `.so`.
fn build(f: Fixture<'_>) -> PathBuf {
    let work = work_dir();
    let lock = std::fs::File::create(work.join(".lock")).expect("lock file");
    // SAFETY: flock on a descriptor we own; released when `lock` is dropped.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    let src = work.join(format!("src-{}", f.tag));
    let mut hash = DefaultHasher::new();
    for (from, name) in &f.trees {
        copy_tree(from, Some(&src.join(name)), &mut hash);
    }
    for dir in &f.uses {
        copy_tree(dir, None, &mut hash);
    }
    for (file, from, to) in &f.edits {
        (file, from, to).hash(&mut hash);
        let path = src.join(file);
        let text = std::fs::read_to_string(&path).expect("read for edit");
        let edited = text.replacen(from.as_str(), to, 1);
        if edited != text {
            std::fs::write(&path, edited).expect("write edit");
        }
    }
    let out = work.join(format!("out-{}", f.tag));
    let stamp = out.join("stamp");
    let want = format!("{:x}", hash.finish());
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(&want) && out.join(f.so).exists() {
        return out;
    }
    let lockfile = src.join(f.krate).join("Cargo.lock");
    if !lockfile.exists() {
        // The workspace's pins: the same abi_stable, no network needed.
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"), &lockfile).expect("lock");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(src.join(f.krate).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(work.join("target"))
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the {} fixture failed", f.tag);
    std::fs::create_dir_all(&out).expect("out dir");
    std::fs::copy(work.join("target/debug").join(f.so), out.join(f.so)).expect("copy .so");
    std::fs::write(&stamp, want).expect("stamp");
    out
}

/// A directory holding `libdmcap_echo.so` built against plugin-api `api_version`
/// (the 0.1.0 fixture, renumbered if another version is asked for).
pub fn echo_plugin(api_version: &str) -> PathBuf {
    build(Fixture {
        tag: api_version.to_owned(),
        trees: vec![
            (fixtures_src().join("plugin-api-0.1.0"), "plugin-api-0.1.0"),
            (fixtures_src().join("echo"), "echo"),
        ],
        uses: vec![],
        edits: vec![(
            "plugin-api-0.1.0/Cargo.toml",
            "version = \"0.1.0\"".into(),
            format!("version = \"{api_version}\""),
        )],
        krate: "echo",
        so: "libdmcap_echo.so",
    })
}

/// A directory holding `libdmcap_dice.so` version 0.2.0: the example with another
/// version and another help text for `/dice-roll`, built against this plugin-api.
pub fn dice_v2() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let api = plugin_api_dir();
    let manifest = format!(
        "[package]\nname = \"dmcap-dice\"\nversion = \"0.2.0\"\nedition = \"2021\"\npublish = false\n\n\
         [lib]\nname = \"dmcap_dice\"\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n\
         dmconnect-plugin-api = {{ path = {:?} }}\n\n[workspace]\n",
        api.to_string_lossy()
    );
    let old_manifest = std::fs::read_to_string(root.join("examples/dice/Cargo.toml")).expect("dice manifest");
    build(Fixture {
        tag: "dice-0.2.0".into(),
        trees: vec![(root.join("examples/dice"), "dice")],
        uses: vec![api],
        edits: vec![
            ("dice/Cargo.toml", old_manifest, manifest),
            ("dice/src/lib.rs", "Roll dice (default 1d6)".into(), "Roll dice, version two".into()),
        ],
        krate: "dice",
        so: "libdmcap_dice.so",
    })
}

/// A directory holding `libdmcap_template.so`: `examples/template` copied as an
/// author would, its plugin-api path pointed at this checkout, built on its own.
pub fn template_plugin() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let api = plugin_api_dir();
    build(Fixture {
        tag: "template".into(),
        trees: vec![(root.join("examples/template"), "template")],
        edits: vec![(
            "template/Cargo.toml",
            "path = \"../../plugin-api\"".into(),
            format!("path = {:?}", api.to_string_lossy()),
        )],
        uses: vec![api],
        krate: "template",
        so: "libdmcap_template.so",
    })
}

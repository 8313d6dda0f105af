//! Config discovery (flag > $DMCONNECT_CONFIG > system file > defaults), the
//! printed settings reading back unchanged, errors printed once, and the
//! server's first log lines.

use dmconnect_e2e::{run_cli, temp_dir, TestServer};

/// A config file whose data_dir names it, so the effective settings show which was used.
fn config(dir: &std::path::Path, tag: &str) -> String {
    let path = dir.join(format!("{tag}.toml"));
    std::fs::write(&path, format!("[server]\ndata_dir = \"/srv/{tag}\"\n")).unwrap();
    path.to_string_lossy().into_owned()
}

fn data_dir_line(stdout: &str) -> String {
    stdout.lines().find(|l| l.starts_with("data_dir = ")).unwrap_or_default().to_owned()
}

#[test]
fn discovery_order_is_flag_then_env_then_system_then_defaults() {
    let dir = temp_dir("discover");
    let (flag, env, system) = (config(&dir, "flag"), config(&dir, "env"), config(&dir, "system"));
    let check = |args: &[&str], vars: &[(&str, &str)]| {
        let out = run_cli(args, vars, "");
        assert!(out.ok, "{}", out.stderr);
        (data_dir_line(&out.stdout), out.stderr)
    };
    let all = [("DMCONNECT_CONFIG", env.as_str()), ("DMCONNECT_SYSTEM_CONFIG", system.as_str())];
    let (d, src) = check(&["check-config", "--config", &flag], &all);
    assert_eq!((d.as_str(), src), ("data_dir = \"/srv/flag\"", format!("{flag} (--config) is valid\n")));
    let (d, src) = check(&["check-config"], &all);
    assert_eq!((d.as_str(), src), ("data_dir = \"/srv/env\"", format!("{env} ($DMCONNECT_CONFIG) is valid\n")));
    let (d, src) = check(&["check-config"], &all[1..]);
    assert_eq!((d.as_str(), src), ("data_dir = \"/srv/system\"", format!("{system} is valid\n")));
    // A positional file is the same as --config.
    assert_eq!(check(&["check-config", &flag], &all).0, "data_dir = \"/srv/flag\"");
    let (d, src) = check(&["check-config"], &[]);
    assert_eq!(src, "built-in defaults is valid\n");
    let cwd = std::env::current_dir().unwrap().join("data");
    assert_eq!(d, format!("data_dir = {:?}", cwd.to_string_lossy()));
    // Every subcommand finds the same file: the tools name its data_dir in their refusal.
    let out = run_cli(&["user", "list"], &all[1..], "");
    assert_eq!(
        out.stderr,
        format!(
            "error: no database at /srv/system/dmconnect.db (data_dir from {system}); \
             start the server once or pass --data-dir\n"
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_config_output_reads_back_unchanged() {
    let dir = temp_dir("roundtrip");
    let src = dir.join("in.toml");
    std::fs::write(
        &src,
        "[server]\nadmins = [\"root\"]\nlog_level = \"debug\"\n[federation.peers]\n\"b.example\" = \"10.0.0.2:42439\"\n\
         [capabilities]\nenabled = [\"status\"]\n[capabilities.http_file_upload]\nmax_size = 10\n",
    )
    .unwrap();
    let first = run_cli(&["check-config", src.to_str().unwrap()], &[], "");
    assert!(first.ok, "{}", first.stderr);
    let printed = dir.join("printed.toml");
    std::fs::write(&printed, &first.stdout).unwrap();
    let second = run_cli(&["check-config", printed.to_str().unwrap()], &[], "");
    assert!(second.ok, "{}", second.stderr);
    assert_eq!(first.stdout, second.stdout);
    assert!(first.stdout.contains("[capabilities.http_file_upload]\nmax_size = 10"), "{}", first.stdout);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_example_config_is_valid_and_errors_print_once() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/dmconnect.toml");
    let out = run_cli(&["check-config", example], &[], "");
    assert!(out.ok, "{}", out.stderr);
    let dir = temp_dir("bad");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[server]\nlisten = \"nonsense\"\n").unwrap();
    let out = run_cli(&["serve", "--config", bad.to_str().unwrap()], &[], "");
    assert!(!out.ok);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: ") && out.stderr.contains("not an address"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_server_says_which_config_and_directories_it_uses() {
    let srv = TestServer::start().await;
    let logs = srv.logs();
    let cfg = srv.config_path();
    assert!(logs.contains(&format!("config: {} (--config)", cfg.display())), "{logs}");
    assert!(logs.contains(&format!("data directory: {}", srv.data_dir().display())), "{logs}");
    assert!(logs.contains(&format!("database: {}", srv.data_dir().join("dmconnect.db").display())), "{logs}");
    assert!(logs.contains("plugin directory: "), "{logs}");
    assert!(logs.contains("open-files limit"), "{logs}");
}

#[test]
fn help_explains_every_subcommand() {
    let out = run_cli(&["--help"], &[], "");
    assert!(out.ok);
    for sub in ["serve", "check-config", "capabilities", "user", "ban", "unban", "room", "admin", "reload", "backup"] {
        let line = out.stdout.lines().find(|l| l.trim_start().starts_with(&format!("{sub} "))).unwrap_or_default();
        assert!(line.len() > sub.len() + 10, "no help line for {sub}:\n{}", out.stdout);
    }
    let user = run_cli(&["user", "--help"], &[], "");
    for sub in ["add", "passwd", "del", "list"] {
        assert!(user.stdout.lines().any(|l| l.trim_start().starts_with(&format!("{sub} "))), "{}", user.stdout);
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let srv = TestServer::builder().server_key("log_format", "\"json\"").start().await;
    srv.wait_for_log("listening (plain)").await;
    for line in srv.logs().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["fields"]["message"].is_string() && v["level"].is_string(), "{line}");
    }
}

//! Capabilities replaced while the server runs: `/reload_capability` with a
//! new build of a plugin while a user is connected, failed reloads keeping
//! the old copy, and SIGHUP enabling and disabling capabilities.

mod cap_support;

use cap_support::fixtures::dice_v2;
use cap_support::require;
use dmconnect_e2e::{target_dir, temp_dir, Client, TestServer};
use std::path::Path;

/// Puts `from` at `dir/libdmcap_NAME.so` by rename (never rewriting a file the server has mapped).
fn install(from: &Path, dir: &Path, name: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(from, &tmp).expect("copy");
    std::fs::rename(&tmp, dir.join(format!("libdmcap_{name}.so"))).expect("rename");
}

fn bundled(name: &str) -> std::path::PathBuf {
    target_dir().join(format!("libdmcap_{name}.so"))
}

#[tokio::test]
async fn a_new_build_is_swapped_in_while_a_user_stays_connected() {
    require(&["dice"]);
    let v2 = dice_v2().join("libdmcap_dice.so");
    let dir = temp_dir("reload");
    install(&bundled("dice"), &dir, "dice");
    let srv =
        TestServer::builder().plugin_dir(&dir).capabilities(&["dice"]).server_key("admins", "[\"root\"]").start().await;
    let mut alice = Client::login_new(srv.addr(), "alice", "pw").await;
    let mut root = Client::login_new(srv.addr(), "root", "pw").await;
    alice.join("general").await;
    alice.send("/dice-roll 2d6").await;
    assert!(alice.recv().await.starts_with("You roll 2d6: "));

    alice.send("/reload_capability dice").await;
    alice.expect("Unknown command.").await;
    root.send("/reload_capability").await;
    root.expect("Usage: /reload_capability <name>").await;
    root.send("/reload_capability nothere").await;
    root.expect("Capability nothere not reloaded: it is not loaded.").await;

    install(&v2, &dir, "dice");
    root.send("/reload_capability dice").await;
    root.expect("Capability dice reloaded: 0.1.0 -> 0.2.0.").await;
    // The same session, still in its room, gets the new copy; the stored tally carried over.
    alice.send("/dice").await;
    alice.expect("/dice-roll [NdM] - Roll dice, version two").await;
    alice.expect("/dice-stats - Show how many dice you rolled, and their total").await;
    alice.send("/dice-stats").await;
    let stats = alice.recv().await;
    assert!(stats.starts_with("You rolled 2 dice, "), "{stats}");
    alice.send("still here").await;
    alice.expect("alice: still here").await;

    // A failed reload says why and keeps the running copy.
    std::fs::write(dir.join(".junk"), b"not a library").expect("write");
    std::fs::rename(dir.join(".junk"), dir.join("libdmcap_dice.so")).expect("rename");
    root.send("/reload_capability dice").await;
    let line = root.recv().await;
    assert!(
        line.starts_with("Capability dice not reloaded: not a DMconnect capability plugin")
            && line.ends_with("; 0.2.0 keeps serving."),
        "{line}"
    );
    std::fs::remove_file(dir.join("libdmcap_dice.so")).expect("remove");
    root.send("/reload_capability dice").await;
    root.expect("Capability dice not reloaded: file not found; 0.2.0 keeps serving.").await;
    alice.send("/dice-roll").await;
    assert!(alice.recv().await.starts_with("You roll 1d6: "));
}

#[tokio::test]
async fn sighup_enables_disables_and_reloads_from_the_config_file() {
    require(&["dice", "status"]);
    let dir = temp_dir("hup");
    install(&bundled("dice"), &dir, "dice");
    install(&bundled("status"), &dir, "status");
    let srv = TestServer::builder().plugin_dir(&dir).capabilities(&["dice"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    let hup = |enabled: &str| {
        let cfg = std::fs::read_to_string(srv.config_path()).expect("config");
        let line = cfg.lines().find(|l| l.starts_with("enabled = ")).expect("enabled line").to_owned();
        std::fs::write(srv.config_path(), cfg.replace(&line, &format!("enabled = {enabled}"))).expect("write");
        let _ = std::process::Command::new("kill").arg("-HUP").arg(srv.pid().to_string()).status();
    };
    hup("[\"status\", \"dice\"]");
    cap_support::until(&mut a, "/list_capabilities", "Capabilities: status, dice. Use /CAPABILITY_NAME for help.")
        .await;
    a.send("/status-check alice").await;
    a.expect("alice is online.").await;
    hup("[\"status\"]");
    cap_support::until(&mut a, "/list_capabilities", "Capabilities: status. Use /CAPABILITY_NAME for help.").await;
    a.send("/dice-roll").await;
    a.expect("Unknown command.").await;
    // A changed file is reloaded on the next SIGHUP.
    install(&dice_v2().join("libdmcap_dice.so"), &dir, "dice");
    hup("[\"status\", \"dice\"]");
    cap_support::until(&mut a, "/list_capabilities", "Capabilities: status, dice. Use /CAPABILITY_NAME for help.")
        .await;
    a.send("/dice").await;
    a.expect("/dice-roll [NdM] - Roll dice, version two").await;
    a.recv().await;
    assert!(srv.logs().contains("Capability dice disabled."), "{}", srv.logs());
}

#[tokio::test]
async fn shutdown_hooks_run_when_the_server_stops() {
    require(&["history"]);
    let mut srv = TestServer::builder().capabilities(&["history"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.join("general").await;
    srv.stop().await;
    let logs = srv.logs();
    assert!(logs.contains("history closed (0 lines dropped while running)"), "{logs}");
}

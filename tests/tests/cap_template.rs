//! `examples/template`, built on its own as an author would build it, loads
//! through an operator's `[capabilities] dirs` and answers over TCP.

mod cap_support;

use cap_support::fixtures::template_plugin;
use dmconnect_e2e::{Client, TestServer};

#[tokio::test]
async fn the_template_builds_loads_from_dirs_and_answers() {
    let dir = template_plugin();
    let srv = TestServer::builder()
        .plugin_dirs_add(&dir)
        .capabilities(&["template"])
        .toml("[capabilities.template]\ngreeting = \"Howdy\"")
        .start()
        .await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: template. Use /CAPABILITY_NAME for help.").await;
    a.send("/template").await;
    a.expect("/template-hello [name] - Say hello").await;
    a.expect("/template-count - How many times you said hello").await;
    a.send("/template-hello").await;
    a.expect("Howdy, alice!").await;
    a.send("/template-hello bob").await;
    a.expect("Howdy, bob!").await;
    a.send("/template-count").await;
    a.expect("You said hello 2 times.").await;
}

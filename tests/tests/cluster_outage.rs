//! PostgreSQL stops under a running two-node cluster and comes back: the nodes
//! say so (logs, the storage error line), keep chatting, and recover by
//! themselves. On PostgreSQL and NATS of the test's own; skipped unless
//! `DMC_PG_URL` and `DMC_NATS_URL` are set (see tests/tests/cluster.rs).

use dmconnect_e2e::cluster::{alice_and_bob_in_general, node, settle, OwnServices};
use dmconnect_e2e::{Client, GREETING};
use std::time::{Duration, Instant};

const STORAGE_ERROR: &str = "Error: the server could not complete this request. Try again later.";

#[tokio::test]
async fn nodes_ride_out_a_postgres_outage_and_recover_by_themselves() {
    let Some((own, svc)) = OwnServices::start("pgdown").await else { return };
    let (a, b) = (node(0, &svc).await, node(1, &svc).await);
    let (mut alice, mut bob) = alice_and_bob_in_general(&a, &b).await;

    own.stop_postgres();
    // What needs storage is refused with the storage line, and logged.
    alice.send("/create_server lounge").await;
    alice.expect(STORAGE_ERROR).await;
    a.wait_for_log("storage error: postgresql").await;
    let mut carol = Client::connect(b.addr()).await;
    carol.expect(GREETING).await;
    carol.send("/register carol pw").await;
    carol.expect(STORAGE_ERROR).await;
    carol.expect(GREETING).await;
    // Those already in rooms keep chatting across nodes.
    bob.send("still here").await;
    bob.expect("bob: still here").await;
    alice.expect("bob: still here").await;

    own.start_postgres();
    let t = Instant::now();
    loop {
        alice.send("/create_server lounge").await;
        let got = alice.recv().await;
        if got == "Server 'lounge' created successfully." {
            break;
        }
        assert_eq!(got, STORAGE_ERROR);
        assert!(t.elapsed() < Duration::from_secs(15), "no recovery");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("recovery: first storage command succeeded after {:?}", t.elapsed());
    carol.send("/register carol pw").await;
    carol.expect("Registration successful. Please log in.").await;
    carol.expect(GREETING).await;
    settle().await;
    bob.send("/list_servers").await;
    bob.expect("Servers: general, lounge").await;
}

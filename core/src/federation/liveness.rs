//! Home-host liveness (protocol.md §9): every interval, ping each host with members
//! in our subservers and ask which of them are still online; remove the
//! members of a host that failed several pings in a row, and offline members,
//! with `left` events. Also expires dialback bookkeeping.

use super::messages as msg;
use super::node::Node;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info};

/// Runs until the hub is gone.
pub async fn run(node: Arc<Node>) {
    let every = Duration::from_millis(node.cfg.liveness_interval_ms.max(100));
    let threshold = node.cfg.ping_failures.max(1);
    let mut failures: HashMap<Arc<str>, u32> = HashMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(hub) = node.hub.upgrade() else { return };
        node.prune();
        let hosts = super::home::member_hosts(&hub);
        failures.retain(|h, _| hosts.contains(h));
        let checks = hosts.into_iter().map(|host| {
            let node = node.clone();
            async move {
                let alive = matches!(node.out.request(&host, msg::ping()).await, Ok(a) if msg::is_ok(&a));
                let online = if alive { online_map(&node, &host).await } else { None };
                (host, alive, online)
            }
        });
        let results = futures_join(checks.collect()).await;
        for (host, alive, online) in results {
            if !alive {
                let n = failures.entry(host.clone()).or_insert(0);
                *n += 1;
                debug!(peer = %host, failures = *n, "member host did not answer s2s_ping");
                if *n >= threshold {
                    info!(peer = %host, "member host failed {threshold} pings; removing its members");
                    failures.remove(&host);
                    super::home::drop_remote_members(&hub, &host, None);
                }
                continue;
            }
            failures.remove(&host);
            if let Some(offline) = online {
                if !offline.is_empty() {
                    info!(peer = %host, users = ?offline, "members offline on their host; removing them");
                    super::home::drop_remote_members(&hub, &host, Some(&offline));
                }
            }
        }
    }
}

/// Which of our members from `host` it reports offline; `None` if it did not say.
async fn online_map(node: &Node, host: &str) -> Option<Vec<String>> {
    let hub = node.hub.upgrade()?;
    let users = super::home::remote_members_of(&hub, host);
    if users.is_empty() {
        return None;
    }
    let answer = node.out.request(host, msg::status_request(&users)).await.ok()?;
    if !msg::is_ok(&answer) {
        return None;
    }
    let map = answer.get("online_map")?.as_object()?;
    Some(users.into_iter().filter(|u| map.get(u).and_then(|v| v.as_bool()) != Some(true)).collect())
}

/// Awaits all futures concurrently (member hosts are checked in parallel).
async fn futures_join<F: std::future::Future + Send + 'static>(futs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

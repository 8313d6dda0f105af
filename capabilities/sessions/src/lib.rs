//! The `sessions` capability: `/sessions-list` shows the distinct IPs of the
//! caller's logged-in sessions, sorted, marking the caller's own.

use plugin_api::{Caller, Capability, Command, Host, Reply};

/// The capability.
pub struct Sessions {
    host: Host,
}

impl Sessions {
    /// Starts it.
    pub fn new(host: Host) -> Sessions {
        Sessions { host }
    }
}

impl Capability for Sessions {
    const NAME: &'static str = "sessions";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn commands(&self) -> Vec<Command> {
        vec![Command::new("list", "", "Show the IPs of your active sessions")]
    }

    fn command(&self, _command: &str, _args: &str, caller: &Caller) -> Reply {
        let ips = self.host.session_ips(&caller.account);
        if ips.is_empty() {
            return "No active sessions found.".into();
        }
        let shown: Vec<String> = ips
            .iter()
            .map(|ip| if *ip == caller.peer_ip { format!("{ip} (this is you)") } else { ip.to_string() })
            .collect();
        format!("Active session IPs: {}", shown.join(", ")).into()
    }
}

plugin_api::export_capability!(Sessions::new);

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::testing::start_in_process;
    use plugin_api::testing::FakeHost;

    fn caller(ip: &str) -> Caller {
        Caller { account: "alice".into(), session_id: 1, peer_ip: ip.parse().unwrap(), room: None }
    }

    #[test]
    fn lists_distinct_sorted_ips_and_marks_the_caller() {
        let host = FakeHost::new(&["alice"]);
        let ips = ["127.0.0.1", "10.0.0.5", "127.0.0.1"].iter().map(|s| s.parse().unwrap()).collect();
        host.lock().online.insert("alice".into(), ips);
        let p = start_in_process(Sessions::new, host.clone()).unwrap();
        assert_eq!(
            p.command("list", "", &caller("127.0.0.1")).unwrap().as_deref(),
            Some("Active session IPs: 10.0.0.5, 127.0.0.1 (this is you)")
        );
        host.lock().online.clear();
        assert_eq!(p.command("list", "", &caller("127.0.0.1")).unwrap().as_deref(), Some("No active sessions found."));
    }
}

//! A capability for robustness tests: `/panicky-boom` panics, `/panicky-slow MS`
//! sleeps, `/panicky-ok` answers. Never enable it on a real server.

use plugin_api::{Caller, Capability, Command, Host, Reply};
use std::time::Duration;

/// The capability.
pub struct Panicky;

impl Panicky {
    /// Starts it.
    pub fn new(_host: Host) -> Panicky {
        Panicky
    }
}

impl Capability for Panicky {
    const NAME: &'static str = "panicky";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("boom", "", "Panic"),
            Command::new("slow", "[ms]", "Sleep, then answer (default 3000 ms)"),
            Command::new("ok", "", "Answer at once"),
        ]
    }

    fn command(&self, command: &str, args: &str, _caller: &Caller) -> Reply {
        match command {
            "boom" => panic!("panicky went boom"),
            "slow" => {
                let ms: u64 = args.trim().parse().unwrap_or(3000);
                std::thread::sleep(Duration::from_millis(ms.min(60_000)));
                format!("Done after {ms} ms.").into()
            }
            _ => "Still here.".into(),
        }
    }
}

plugin_api::export_capability!(Panicky::new);

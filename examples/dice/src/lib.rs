//! An example third-party capability: dice rolls, with a per-user tally kept in
//! the server's key-value store. See docs/writing-a-capability.md.

use plugin_api::{Caller, Capability, Command, Host, Reply};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// The capability.
pub struct Dice {
    host: Host,
}

impl Dice {
    /// Called once when the server loads the plugin.
    pub fn new(host: Host) -> Dice {
        host.info("dice is ready");
        Dice { host }
    }

    /// `NdM` → (N, M); no argument is one six-sided die.
    fn parse(args: &str) -> Option<(u32, u32)> {
        let args = args.trim();
        if args.is_empty() {
            return Some((1, 6));
        }
        let (n, m) = args.split_once('d')?;
        let n: u32 = if n.is_empty() { 1 } else { n.parse().ok()? };
        let m: u32 = m.parse().ok()?;
        ((1..=20).contains(&n) && (2..=1000).contains(&m)).then_some((n, m))
    }

    /// The caller's (rolls, total) so far.
    fn tally(&self, account: &str) -> Result<(i64, i64), String> {
        let read = |key: String| -> Result<i64, String> {
            Ok(self.host.kv_get(&key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
        };
        Ok((read(format!("rolls/{account}"))?, read(format!("pips/{account}"))?))
    }

    fn roll(&self, args: &str, caller: &Caller) -> Reply {
        let Some((n, m)) = Dice::parse(args) else { return Reply::Usage };
        // A fresh RandomState is randomly seeded: good enough for dice, no extra crates.
        let rolls: Vec<u64> = (0..n).map(|_| RandomState::new().build_hasher().finish() % u64::from(m) + 1).collect();
        let sum: u64 = rolls.iter().sum();
        // Atomic increments: two sessions rolling at once never lose a roll
        // (reading, adding and writing back would).
        let account = &caller.account;
        let counted = self
            .host
            .kv_increment(&format!("rolls/{account}"), i64::from(n))
            .and_then(|_| self.host.kv_increment(&format!("pips/{account}"), sum as i64));
        if let Err(e) = counted {
            self.host.warn(&format!("saving the tally of {account}: {e}"));
        }
        let shown: Vec<String> = rolls.iter().map(u64::to_string).collect();
        format!("You roll {n}d{m}: {} = {sum}", shown.join(" + ")).into()
    }
}

impl Capability for Dice {
    const NAME: &'static str = "dice";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("roll", "[NdM]", "Roll dice (default 1d6)"),
            Command::new("stats", "", "Show how many dice you rolled, and their total"),
        ]
    }

    fn command(&self, command: &str, args: &str, caller: &Caller) -> Reply {
        match command {
            "roll" => self.roll(args, caller),
            _ => match self.tally(&caller.account) {
                Ok((0, _)) => "You have not rolled any dice yet.".into(),
                Ok((count, total)) => format!("You rolled {count} dice, {total} pips in all.").into(),
                Err(e) => format!("Could not read your tally: {e}").into(),
            },
        }
    }
}

plugin_api::export_capability!(Dice::new);

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::testing::start_in_process;
    use plugin_api::testing::FakeHost;

    #[test]
    fn rolls_and_keeps_a_tally() {
        let host = FakeHost::new(&["alice"]);
        let p = start_in_process(Dice::new, host).unwrap();
        let c = Caller { account: "alice".into(), session_id: 1, peer_ip: "127.0.0.1".parse().unwrap(), room: None };
        assert_eq!(p.command("stats", "", &c).unwrap().unwrap(), "You have not rolled any dice yet.");
        assert_eq!(p.command("roll", "0d6", &c).unwrap().unwrap(), "Usage: /dice-roll [NdM]");
        let r = p.command("roll", "3d1000", &c).unwrap().unwrap();
        assert!(r.starts_with("You roll 3d1000: "), "{r}");
        let sum: u64 = r.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(p.command("stats", "", &c).unwrap().unwrap(), format!("You rolled 3 dice, {sum} pips in all."));
    }
}

//! A template capability: `/template-hello [NAME]` greets, `/template-count`
//! counts the caller's greetings in the server's store. Replace the commands
//! with yours; see docs/writing-a-capability.md.

use plugin_api::serde::Deserialize;
use plugin_api::{Caller, Capability, Command, Host, Reply};

/// `[capabilities.template]` in the server's config.
#[derive(Deserialize)]
#[serde(crate = "plugin_api::serde", default, deny_unknown_fields)]
struct Config {
    greeting: String,
}

impl Default for Config {
    fn default() -> Self {
        Config { greeting: "Hello".into() }
    }
}

/// The capability.
pub struct Template {
    host: Host,
    cfg: Config,
}

impl Template {
    /// Called once when the server loads the plugin; an error skips it with one log line.
    pub fn new(host: Host) -> Result<Template, String> {
        let cfg = host.config()?;
        Ok(Template { host, cfg })
    }
}

impl Capability for Template {
    const NAME: &'static str = "template";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("hello", "[name]", "Say hello"),
            Command::new("count", "", "How many times you said hello"),
        ]
    }

    fn command(&self, command: &str, args: &str, caller: &Caller) -> Reply {
        let key = format!("hellos/{}", caller.account);
        match command {
            "hello" => {
                let who = if args.trim().is_empty() { caller.account.as_str() } else { args.trim() };
                // Atomic: two sessions greeting at once both count.
                if let Err(e) = self.host.kv_increment(&key, 1) {
                    self.host.warn(&format!("counting: {e}"));
                }
                format!("{}, {who}!", self.cfg.greeting).into()
            }
            _ => match self.host.kv_get(&key) {
                Ok(n) => format!("You said hello {} times.", n.unwrap_or_else(|| "0".into())).into(),
                Err(e) => format!("Could not read your count: {e}").into(),
            },
        }
    }
}

plugin_api::export_capability!(Template::new);

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::testing::{start_in_process, FakeHost};

    fn alice() -> Caller {
        Caller { account: "alice".into(), session_id: 1, peer_ip: "127.0.0.1".parse().unwrap(), room: None }
    }

    #[test]
    fn greets_and_counts() {
        let p = start_in_process(Template::new, FakeHost::new(&["alice"])).unwrap();
        assert_eq!(p.info().help(), "/template-hello [name] - Say hello\n/template-count - How many times you said hello");
        assert_eq!(p.command("hello", "", &alice()).unwrap().unwrap(), "Hello, alice!");
        assert_eq!(p.command("hello", "bob", &alice()).unwrap().unwrap(), "Hello, bob!");
        assert_eq!(p.command("count", "", &alice()).unwrap().unwrap(), "You said hello 2 times.");
    }

    #[test]
    fn config_mistakes_name_the_key() {
        let mut host = FakeHost::new(&[]);
        host.config = r#"{"greeting": 5}"#.into();
        let err = start_in_process(Template::new, host).err().unwrap().to_string();
        assert_eq!(err, "init failed: [capabilities.template] greeting: expected a string, found an integer");
    }
}

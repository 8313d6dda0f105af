//! Unit tests of the boundary, in process, through the real FFI objects.

use crate::loader::LoadError;
use crate::testing::start_in_process;
use crate::testing::FakeHost;
use crate::*;
use std::sync::Mutex;

struct Echo {
    host: Host,
    count: Mutex<u32>,
}

impl Echo {
    fn new(host: Host) -> Result<Echo, String> {
        if host.config_json().contains("fail") {
            return Err("bad config".into());
        }
        Ok(Echo { host, count: Mutex::new(0) })
    }
}

impl Capability for Echo {
    const NAME: &'static str = "echo";
    const VERSION: &'static str = "1.2.3";

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("say", "<text>", "Say something"),
            Command::new("boom", "", "Panic"),
            Command::new("quiet", "", "Answer nothing"),
            Command::new("kv", "<key> <value>", "Store"),
        ]
    }

    fn command(&self, command: &str, args: &str, caller: &Caller) -> Reply {
        *self.count.lock().unwrap() += 1;
        match command {
            "say" if args.is_empty() => Reply::Usage,
            "say" => format!("{} ({}) says {args}", caller.account, caller.peer_ip).into(),
            "boom" => panic!("kaboom {}", 42),
            "kv" => match args.split_once(' ') {
                Some((k, v)) => {
                    self.host.kv_set(k, v).unwrap();
                    self.host.kv_get(k).unwrap().unwrap_or_default().into()
                }
                None => Reply::Usage,
            },
            _ => Reply::Silent,
        }
    }

    fn filters_delivery(&self) -> bool {
        true
    }

    fn allow_delivery(&self, kind: DeliveryKind, from: &str, _to: &str) -> bool {
        if from == "panic" {
            panic!("filter panic");
        }
        !(kind == DeliveryKind::Pm && from == "spammer")
    }

    fn presence(&self, event: &Presence) {
        self.host.send_to_account("watcher", &format!("{} {:?} {}", event.account, event.host, event.online));
    }

    fn s2s_types(&self) -> Vec<String> {
        vec!["echo_ping".into()]
    }

    fn s2s(&self, msg_type: &str, from_host: &str, json: &str) -> Option<String> {
        Some(format!("{{\"type\":\"{msg_type}\",\"from\":\"{from_host}\",\"len\":{}}}", json.len()))
    }

    fn http_prefixes(&self) -> Vec<String> {
        vec!["/echo".into()]
    }

    fn http(&self, request: HttpRequest) -> HttpResponse {
        if request.path == "/echo/file" {
            return HttpResponse::file("/tmp/x", vec![]);
        }
        HttpResponse::new(201, "application/octet-stream", request.body)
    }
}

fn caller() -> Caller {
    Caller {
        account: "alice".into(),
        session_id: 7,
        peer_ip: "10.0.0.5".parse().unwrap(),
        room: Some("general".into()),
    }
}

#[test]
fn info_and_help_cross_the_boundary() {
    let p = start_in_process(Echo::new, FakeHost::new(&[])).unwrap();
    let info = p.info();
    assert_eq!((info.name.as_str(), info.version.as_str()), ("echo", "1.2.3"));
    assert!(info.filters_delivery);
    assert_eq!(info.s2s_types, vec!["echo_ping"]);
    assert_eq!(info.http_prefixes, vec!["/echo"]);
    assert_eq!(
        info.help(),
        "/echo-say <text> - Say something\n/echo-boom - Panic\n/echo-quiet - Answer nothing\n/echo-kv <key> <value> - Store"
    );
}

#[test]
fn commands_usage_unknown_and_silent() {
    let host = FakeHost::new(&[]);
    let p = start_in_process(Echo::new, host.clone()).unwrap();
    assert_eq!(p.command("say", "hi there", &caller()).unwrap().as_deref(), Some("alice (10.0.0.5) says hi there"));
    assert_eq!(p.command("say", "", &caller()).unwrap().as_deref(), Some("Usage: /echo-say <text>"));
    assert_eq!(p.command("kv", "", &caller()).unwrap().as_deref(), Some("Usage: /echo-kv <key> <value>"));
    assert_eq!(p.command("nope", "", &caller()).unwrap(), None);
    assert_eq!(p.command("quiet", "", &caller()).unwrap().as_deref(), Some(""));
    assert_eq!(p.command("kv", "a b c", &caller()).unwrap().as_deref(), Some("b c"));
    assert_eq!(host.lock().kv.get("a").map(String::as_str), Some("b c"));
}

#[test]
fn panics_become_errors_and_the_plugin_keeps_working() {
    let p = start_in_process(Echo::new, FakeHost::new(&[])).unwrap();
    let err = p.command("boom", "", &caller()).unwrap_err();
    assert!(err.contains("kaboom 42"), "{err}");
    assert!(p.allow(DeliveryKind::Chat, "panic", "bob").is_err());
    assert_eq!(p.command("say", "x", &caller()).unwrap().as_deref(), Some("alice (10.0.0.5) says x"));
}

#[test]
fn filter_presence_s2s_http() {
    let host = FakeHost::new(&[]);
    host.lock().online.insert("watcher".into(), vec![]);
    let p = start_in_process(Echo::new, host.clone()).unwrap();
    assert!(!p.allow(DeliveryKind::Pm, "spammer", "bob").unwrap());
    assert!(p.allow(DeliveryKind::Chat, "spammer", "bob").unwrap());
    p.presence("bob", Some("far.test"), true).unwrap();
    assert_eq!(host.take_sent(), vec![("watcher".to_string(), "bob Some(\"far.test\") true".to_string())]);
    assert_eq!(
        p.s2s("echo_ping", "far.test", "{}").unwrap().as_deref(),
        Some("{\"type\":\"echo_ping\",\"from\":\"far.test\",\"len\":2}")
    );
    let req = HttpRequest { method: "POST".into(), path: "/echo".into(), headers: vec![], body: vec![0, 1, 255] };
    let resp = p.http(req).unwrap();
    assert_eq!((resp.status, resp.body), (201, HttpBody::Bytes(vec![0, 1, 255])));
    let req = HttpRequest { method: "GET".into(), path: "/echo/file".into(), headers: vec![], body: vec![] };
    assert_eq!(p.http(req).unwrap().body, HttpBody::File("/tmp/x".into()));
}

#[test]
fn constructor_errors_and_panics_are_init_failures() {
    let mut host = FakeHost::new(&[]);
    host.config = "{\"fail\":true}".into();
    assert_eq!(start_in_process(Echo::new, host).err(), Some(LoadError::InitFailed("bad config".into())));
    let err = start_in_process(|_h: Host| -> Echo { panic!("no way") }, FakeHost::new(&[])).err();
    assert!(matches!(err, Some(LoadError::InitFailed(ref m)) if m.contains("no way")), "{err:?}");
}

#[test]
fn exported_symbol_is_the_one_abi_stable_looks_for() {
    assert_eq!(ffi::ROOT_SYMBOL, abi_stable::library::ROOT_MODULE_LOADER_NAME);
}

#[test]
fn opening_a_non_plugin_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("plugin-api-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bogus = dir.join("libdmcap_bogus.so");
    std::fs::write(&bogus, b"this is not an ELF file").unwrap();
    let err = loader::Library::open(&bogus).err().unwrap();
    assert!(matches!(err, LoadError::NotAPlugin(_)), "{err:?}");
    assert_eq!(loader::Library::open(&dir.join("libdmcap_none.so")).err(), Some(LoadError::Missing));
    let _ = std::fs::remove_dir_all(dir);
}

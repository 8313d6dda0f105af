//! Parsing every command, and applying commands to an in-memory hub (a real
//! SQLite store, no sockets): the outbox of each session is what it would read.

use super::args::{words, Usage};
use super::*;
use crate::auth::Auth;
use crate::config::AuthConfig;
use crate::context::{Shared, State};
use crate::hub::tests::{drain, hub, session};
use crate::hub::SessionHandle;
use crate::replies::{self, GREETING};
use std::sync::Arc;

use Command as C;
use Role::{Admin, Guest, User};

fn usage(text: &'static str) -> Command<'static> {
    C::Usage(Usage::of(text))
}

fn cap<'a>(word: &'a str, args: Option<&'a str>) -> Command<'a> {
    C::Capability(Capability { word, args })
}

#[test]
fn words_keep_the_rest_in_the_last_one() {
    assert_eq!(words::<3>("/login bob my pass"), [Some("/login"), Some("bob"), Some("my pass")]);
    assert_eq!(words::<3>("/login bob"), [Some("/login"), Some("bob"), None]);
    assert_eq!(words::<2>("/act"), [Some("/act"), None]);
    assert_eq!(words::<2>("/act  two  spaces"), [Some("/act"), Some(" two  spaces")]);
}

#[test]
fn before_login_only_register_and_login_exist() {
    assert_eq!(C::parse("/register bob pw", Guest), C::Register(Register { name: "bob", password: "pw" }));
    assert_eq!(C::parse("/register bob p w", Guest), C::Register(Register { name: "bob", password: "p w" }));
    assert_eq!(C::parse("/register  pw", Guest), C::Register(Register { name: "", password: "pw" }));
    let register_usage = C::Usage(Usage::then_greet(replies::USAGE_REGISTER));
    assert_eq!(C::parse("/register bob", Guest), register_usage);
    assert_eq!(C::parse("/register bob ", Guest), register_usage);
    assert_eq!(C::parse("/login bob secret words", Guest), C::Login(Login { name: "bob", password: "secret words" }));
    let login_usage = C::Usage(Usage::then_greet(replies::USAGE_LOGIN));
    assert_eq!(C::parse("/login", Guest), login_usage);
    assert_eq!(C::parse("/login  pw", Guest), login_usage);
    assert_eq!(C::parse("/login bob ", Guest), login_usage);
    assert_eq!(C::parse("/help", Guest), C::Greet);
    assert_eq!(C::parse("hello", Guest), C::Greet);
    assert_eq!(C::parse("GET /app.js HTTP/1.1", Guest), C::HttpRequest);
    assert_eq!(C::parse("GET /app.js HTTP/1.1", User), C::Chat(Chat("GET /app.js HTTP/1.1")));
    assert_eq!(C::parse("/loginbob pw", Guest), C::Greet);
}

#[test]
fn after_login_every_core_command() {
    assert_eq!(C::parse("hello there", User), C::Chat(Chat("hello there")));
    assert_eq!(C::parse(" /x", User), C::Chat(Chat(" /x")));
    assert_eq!(C::parse("/create_server attic", User), C::CreateServer(CreateServer("attic")));
    assert_eq!(C::parse("/create_server a b", User), C::CreateServer(CreateServer("a b")));
    assert_eq!(C::parse("/create_server", User), usage(replies::USAGE_CREATE));
    assert_eq!(C::parse("/create_server ", User), usage(replies::USAGE_CREATE));
    assert_eq!(C::parse("/join_server general", User), C::JoinServer(JoinServer("general")));
    assert_eq!(C::parse("/join_server lobby@there.test", User), C::JoinServer(JoinServer("lobby@there.test")));
    assert_eq!(C::parse("/join_server", User), usage(replies::USAGE_JOIN));
    assert_eq!(C::parse("/list_servers", User), C::ListServers(ListServers { page: 1 }));
    assert_eq!(C::parse("/list_servers extra", User), C::ListServers(ListServers { page: 1 }));
    assert_eq!(C::parse("/list_servers 3", User), C::ListServers(ListServers { page: 3 }));
    assert_eq!(C::parse("/members", User), C::Members);
    assert_eq!(C::parse("/help", User), C::Help);
    assert_eq!(C::parse("/list_capabilities", User), C::ListCapabilities);
    assert_eq!(C::parse("/act waves  twice", User), C::Act(Act("waves  twice")));
    assert_eq!(C::parse("/act   ", User), usage(replies::USAGE_ACT));
    assert_eq!(C::parse("/act", User), usage(replies::USAGE_ACT));
    assert_eq!(C::parse("/pm bob hi there", User), C::Pm(Pm { to: "bob", text: "hi there" }));
    assert_eq!(C::parse("/pm bob@there.test hi", User), C::Pm(Pm { to: "bob@there.test", text: "hi" }));
    assert_eq!(C::parse("/pm bob", User), usage(replies::USAGE_PM));
    assert_eq!(C::parse("/pm bob ", User), usage(replies::USAGE_PM));
    assert_eq!(C::parse("/pm  hi", User), usage(replies::USAGE_PM));
}

#[test]
fn admin_commands_exist_for_admins_only() {
    assert_eq!(C::parse("/ban bob", Admin), C::Ban(Ban("bob")));
    assert_eq!(C::parse("/ban  bob ", Admin), C::Ban(Ban("bob")));
    assert_eq!(C::parse("/ban", Admin), usage(replies::USAGE_BAN));
    assert_eq!(C::parse("/ban   ", Admin), usage(replies::USAGE_BAN));
    assert_eq!(C::parse("/unban bob", Admin), C::Unban(Unban("bob")));
    assert_eq!(C::parse("/unban", Admin), usage(replies::USAGE_UNBAN));
    assert_eq!(C::parse("/delete_server attic", Admin), C::DeleteServer(DeleteServer("attic")));
    assert_eq!(C::parse("/delete_server", Admin), usage(replies::USAGE_DELETE));
    assert_eq!(C::parse("/ban bob", User), cap("ban", Some("bob")));
    assert_eq!(C::parse("/chat hi", Admin), cap("chat", Some("hi")));
}

#[test]
fn capability_words() {
    assert_eq!(C::parse("/status", User), cap("status", None));
    assert_eq!(C::parse("/status ", User), cap("status", Some("")));
    assert_eq!(C::parse("/status-check bob x", User), cap("status-check", Some("bob x")));
    assert_eq!(C::parse("/", User), cap("", None));
}

#[test]
fn keepalive_slashes() {
    assert_eq!(keepalives("/"), (1, None));
    assert_eq!(keepalives("///"), (1, None));
    assert_eq!(keepalives(""), (1, None));
    assert_eq!(keepalives("//login a b"), (1, Some("/login a b")));
    assert_eq!(keepalives("///help"), (2, Some("/help")));
    assert_eq!(keepalives("/help"), (0, Some("/help")));
    assert_eq!(keepalives("hi"), (0, Some("hi")));
    assert_eq!(C::parse(keepalives("//login a b c").1.unwrap(), Guest), C::Login(Login { name: "a", password: "b c" }));
}

/// One client of the in-memory server.
struct Conn {
    session: Arc<SessionHandle>,
    state: State,
}

impl Conn {
    fn new(shared: &Shared) -> Conn {
        Conn { session: session(&shared.hub), state: State::default() }
    }

    /// Runs one message and returns what the session was sent.
    async fn send(&mut self, shared: &Shared, text: &str) -> Vec<String> {
        let mut ctx = Ctx { shared, session: &self.session, state: &mut self.state };
        run(&mut ctx, text).await;
        drain(&self.session)
    }

    async fn login(shared: &Shared, name: &str) -> Conn {
        let mut c = Conn::new(shared);
        c.send(shared, &format!("/register {name} pw")).await;
        let got = c.send(shared, &format!("/login {name} pw")).await;
        assert_eq!(got[0], replies::LOGGED_IN, "{got:?}");
        c
    }
}

fn shared(tag: &str) -> Shared {
    let cfg =
        AuthConfig { argon2_memory_kib: 8, argon2_iterations: 1, max_concurrent_hashes: 1, ..AuthConfig::default() };
    let budgets = Arc::new(crate::limits::Budgets::new(&crate::config::LimitsConfig::default()));
    Shared {
        hub: hub(tag),
        auth: Auth::new(&cfg).unwrap(),
        legacy: false,
        budgets,
        uploads: Arc::new(crate::uploads::Uploads::new(&Default::default(), std::env::temp_dir())),
    }
}

#[tokio::test]
async fn register_login_and_usage_errors_end_with_the_greeting() {
    let sh = shared("cmd-login");
    let mut c = Conn::new(&sh);
    assert_eq!(c.send(&sh, "/register bob").await, [replies::USAGE_REGISTER, GREETING]);
    assert_eq!(c.send(&sh, "/register bob p w").await, [replies::REGISTERED, GREETING]);
    assert_eq!(c.send(&sh, "/register bob x").await, [replies::NAME_TAKEN, GREETING]);
    assert_eq!(c.send(&sh, "/login bob p").await, [replies::BAD_LOGIN, GREETING]);
    assert_eq!(c.send(&sh, "/members").await, [GREETING]);
    assert_eq!(c.send(&sh, "//").await, [replies::PING]);
    let got = c.send(&sh, "//login bob p w").await;
    assert_eq!(got, [replies::PING, replies::LOGGED_IN, "Available servers: general", replies::SELECT_SERVER]);
    assert_eq!(c.state.account.as_deref(), Some("bob"));
}

#[tokio::test]
async fn chat_act_members_and_pm() {
    let sh = shared("cmd-chat");
    let mut a = Conn::login(&sh, "alice").await;
    let mut b = Conn::login(&sh, "bob").await;
    assert_eq!(a.send(&sh, "hi").await, [replies::JOIN_FIRST]);
    assert_eq!(a.send(&sh, "/join_server nowhere").await, [replies::NO_SUCH_SERVER]);
    assert_eq!(
        a.send(&sh, "/join_server general").await,
        ["Joined server 'general' successfully.", "*** alice has joined the server."]
    );
    b.send(&sh, "/join_server general@here.test").await;
    let again = a.send(&sh, "/join_server general").await;
    assert_eq!(again, ["*** bob has joined the server.", "You're already connected to the server 'general'."]);
    assert_eq!(b.send(&sh, "hello all").await, ["bob: hello all"]);
    assert_eq!(a.send(&sh, "/act has joined the server.").await, ["bob: hello all", replies::ACT_NOT_ALLOWED]);
    assert_eq!(a.send(&sh, "/act waves").await, ["*** alice waves"]);
    assert_eq!(b.send(&sh, "/members").await, ["*** alice waves", "Members in 'general': alice, bob"]);
    assert_eq!(a.send(&sh, "/pm alice me").await, [replies::PM_SELF]);
    assert_eq!(a.send(&sh, "/pm ghost boo").await, [replies::NO_SUCH_USER]);
    assert_eq!(a.send(&sh, "/pm bob@here.test psst").await, ["Private message sent to bob@here.test."]);
    assert_eq!(a.send(&sh, "/pm bob@far.test psst").await, ["Failed to send private message to bob@far.test."]);
    assert_eq!(
        b.send(&sh, "/join_server lobby@far.test").await,
        ["(Private) alice: psst", "You're already connected to the server 'general'."]
    );
    assert_eq!(a.send(&sh, "/list_capabilities").await, [replies::NO_CAPABILITIES]);
    assert_eq!(a.send(&sh, "/status-check bob").await, [replies::UNKNOWN]);
    assert_eq!(a.send(&sh, "/ban bob").await, [replies::UNKNOWN], "not an admin");
}

#[tokio::test]
async fn remote_join_without_federation_creates_no_room() {
    let sh = shared("cmd-remote");
    let mut a = Conn::login(&sh, "alice").await;
    assert_eq!(a.send(&sh, "/join_server lobby@far.test").await, [replies::NO_SUCH_SERVER]);
    assert!(sh.hub.find_remote_room("lobby", "far.test").is_none());
    assert_eq!(a.send(&sh, "/join_server lobby@").await, [replies::NO_SUCH_SERVER]);
}

#[tokio::test]
async fn admins_ban_unban_and_delete() {
    let sh = shared("cmd-admin");
    let mut root = Conn::login(&sh, "root").await;
    let b = Conn::login(&sh, "bob").await;
    assert!(sh.hub.is_admin("root"));
    assert_eq!(root.send(&sh, "/ban").await, [replies::USAGE_BAN]);
    assert_eq!(root.send(&sh, "/ban root").await, [replies::BAN_SELF]);
    assert_eq!(root.send(&sh, "/ban ghost").await, [replies::NO_SUCH_USER]);
    assert_eq!(root.send(&sh, "/ban bob").await, ["User 'bob' has been banned."]);
    assert_eq!(drain(&b.session), [replies::YOU_ARE_BANNED]);
    assert_eq!(root.send(&sh, "/unban bob").await, ["User 'bob' has been unbanned."]);
    assert_eq!(root.send(&sh, "/delete_server general").await, [replies::CANNOT_DELETE_DEFAULT]);
    assert_eq!(root.send(&sh, "/create_server attic").await, ["Server 'attic' created successfully."]);
    root.send(&sh, "/join_server attic").await;
    assert_eq!(
        root.send(&sh, "/delete_server attic").await,
        ["Server 'attic' has been deleted.", "Server 'attic' deleted."]
    );
    assert_eq!(root.send(&sh, "/members").await, [replies::JOIN_FIRST]);
    assert_eq!(root.send(&sh, "/delete_server attic").await, [replies::NO_SUCH_SERVER]);
    assert!(root.send(&sh, "/help").await[0].contains("/create_server"));
}

/// Guards the idle-memory work (bench/README.md, issue 16): an idle plain TCP
/// session keeps this future inside a tokio task whose cell is 128-byte aligned.
/// Up to 280 bytes (the server's 48-byte slot and guard and the task-local list
/// included) the cell is 384 bytes; one word more and it is 512 for every connection.
#[tokio::test]
async fn an_idle_sessions_future_stays_small() {
    use crate::transport::plain::{TcpReader, TcpWriter};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (sock, peer) = listener.accept().await.unwrap();
    let sock = Arc::new(sock);
    let reader = Box::new(TcpReader::new(sock.clone(), std::time::Duration::from_millis(50)));
    let keep = [0u64; 6]; // the size of the server's connection slot and shutdown guard
    let future =
        crate::session::run(Arc::new(shared("size")), peer, "plain", reader, Box::new(TcpWriter::new(sock)), keep);
    let size = std::mem::size_of_val(&future);
    eprintln!("session future: {size} bytes");
    assert!(size <= 280, "an idle session's future grew to {size} bytes (task-local list included)");
}

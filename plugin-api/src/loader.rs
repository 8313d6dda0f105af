//! The server side of the boundary: opens a plugin library (abi_stable checks
//! its plugin-api version and type layouts), starts the capability with the
//! server's [`HostServices`], and calls it with plain Rust types.

use crate::ffi::*;
use crate::guest::guard;
use crate::types::{Caller, Command, DeliveryKind, HttpBody, HttpRequest, HttpResponse, Level};

pub use crate::types::Info;
use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RNone, ROption, RResult, RSome, RStr, RString, RVec, Tuple2};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What the server offers one capability; implemented by the server, in plain Rust types.
/// Panics here are caught at the boundary (the capability sees a failure or a default).
pub trait HostServices: Send + Sync + 'static {
    /// Sends a text to every session of an account; false if it has none.
    fn send_to_account(&self, account: &str, text: &str) -> bool;
    /// Sends a text to one session; false if it is gone.
    fn send_to_session(&self, session_id: u64, text: &str) -> bool;
    /// Is any session of the account logged in?
    fn is_online(&self, account: &str) -> bool;
    /// Distinct peer IPs of the account's sessions.
    fn session_ips(&self, account: &str) -> Vec<IpAddr>;
    /// Does the account exist? (blocking)
    fn account_exists(&self, account: &str) -> Result<bool, String>;
    /// Advertised host name.
    fn host_name(&self) -> String;
    /// Main port.
    fn main_port(&self) -> u16;
    /// The capability's data directory.
    fn data_dir(&self) -> PathBuf;
    /// The capability's config table as JSON text.
    fn config_json(&self) -> String;
    /// KV get in the capability's namespace (blocking).
    fn kv_get(&self, key: &str) -> Result<Option<String>, String>;
    /// KV set (blocking).
    fn kv_set(&self, key: &str, value: &str) -> Result<(), String>;
    /// KV delete (blocking).
    fn kv_delete(&self, key: &str) -> Result<bool, String>;
    /// KV list by key prefix (blocking).
    fn kv_list(&self, prefix: &str) -> Result<Vec<(String, String)>, String>;
    /// A server-to-server request, JSON text in and out (blocking).
    fn s2s_request(&self, host: &str, json: &str) -> Result<String, String>;
    /// A fire-and-forget server-to-server message.
    fn s2s_send(&self, host: &str, json: &str);
    /// A log line from the capability.
    fn log(&self, level: Level, message: &str);
    /// Atomic increment of an integer value (blocking); see [`crate::Host::kv_increment`].
    fn kv_increment(&self, _key: &str, _delta: i64) -> Result<i64, String> {
        Err(OLD_SERVER.into())
    }
    /// Atomic compare-and-set (blocking); see [`crate::Host::kv_compare_and_set`].
    fn kv_compare_and_set(&self, _key: &str, _expected: Option<&str>, _new: Option<&str>) -> Result<bool, String> {
        Err(OLD_SERVER.into())
    }
    /// Runs the loaded delivery filters; see [`crate::Host::allowed`].
    fn allowed(&self, _kind: DeliveryKind, _from: &str, _to: &str) -> bool {
        true
    }
}

struct HostAdapter<H: HostServices> {
    host: H,
}

fn flat<T>(r: FfiResult<Result<T, String>>) -> FfiResult<T> {
    match r {
        RResult::ROk(Ok(v)) => RResult::ROk(v),
        RResult::ROk(Err(e)) => RResult::RErr(e.into()),
        RResult::RErr(e) => RResult::RErr(format!("server error: {e}").into()),
    }
}

impl<H: HostServices> FfiHost for HostAdapter<H> {
    fn send_to_account(&self, account: RStr<'_>, text: RStr<'_>) -> bool {
        guard(|| self.host.send_to_account(account.as_str(), text.as_str())).unwrap_or(false)
    }
    fn send_to_session(&self, session_id: u64, text: RStr<'_>) -> bool {
        guard(|| self.host.send_to_session(session_id, text.as_str())).unwrap_or(false)
    }
    fn is_online(&self, account: RStr<'_>) -> bool {
        guard(|| self.host.is_online(account.as_str())).unwrap_or(false)
    }
    fn session_ips(&self, account: RStr<'_>) -> RVec<RString> {
        guard(|| self.host.session_ips(account.as_str()).iter().map(|ip| RString::from(ip.to_string())).collect())
            .unwrap_or_default()
    }
    fn account_exists(&self, account: RStr<'_>) -> FfiResult<bool> {
        flat(guard(|| self.host.account_exists(account.as_str())))
    }
    fn host_name(&self) -> RString {
        guard(|| self.host.host_name()).map(RString::from).unwrap_or_default()
    }
    fn main_port(&self) -> u16 {
        guard(|| self.host.main_port()).unwrap_or(0)
    }
    fn data_dir(&self) -> RString {
        guard(|| self.host.data_dir().to_string_lossy().into_owned()).map(RString::from).unwrap_or_default()
    }
    fn config_json(&self) -> RString {
        guard(|| self.host.config_json()).map(RString::from).unwrap_or_else(|_| "{}".into())
    }
    fn kv_get(&self, key: RStr<'_>) -> FfiResult<ROption<RString>> {
        flat(guard(|| self.host.kv_get(key.as_str()).map(|o| o.map(RString::from).into())))
    }
    fn kv_set(&self, key: RStr<'_>, value: RStr<'_>) -> FfiResult<()> {
        flat(guard(|| self.host.kv_set(key.as_str(), value.as_str())))
    }
    fn kv_delete(&self, key: RStr<'_>) -> FfiResult<bool> {
        flat(guard(|| self.host.kv_delete(key.as_str())))
    }
    fn kv_list(&self, prefix: RStr<'_>) -> FfiResult<RVec<Tuple2<RString, RString>>> {
        flat(guard(|| {
            self.host
                .kv_list(prefix.as_str())
                .map(|v| v.into_iter().map(|(k, v)| Tuple2(RString::from(k), RString::from(v))).collect())
        }))
    }
    fn s2s_request(&self, host: RStr<'_>, json: RStr<'_>) -> FfiResult<RString> {
        flat(guard(|| self.host.s2s_request(host.as_str(), json.as_str()).map(RString::from)))
    }
    fn s2s_send(&self, host: RStr<'_>, json: RStr<'_>) {
        let _ = guard(|| self.host.s2s_send(host.as_str(), json.as_str()));
    }
    fn log(&self, level: u8, message: RStr<'_>) {
        let _ = guard(|| self.host.log(Level::from_u8(level), message.as_str()));
    }
    fn kv_increment(&self, key: RStr<'_>, delta: i64) -> FfiResult<i64> {
        flat(guard(|| self.host.kv_increment(key.as_str(), delta)))
    }
    fn kv_compare_and_set(
        &self,
        key: RStr<'_>,
        expected: ROption<RStr<'_>>,
        new: ROption<RStr<'_>>,
    ) -> FfiResult<bool> {
        let (e, n) = (expected.into_option().map(|s| s.as_str()), new.into_option().map(|s| s.as_str()));
        flat(guard(|| self.host.kv_compare_and_set(key.as_str(), e, n)))
    }
    fn allowed(&self, kind: FfiKind, from: RStr<'_>, to: RStr<'_>) -> bool {
        guard(|| self.host.allowed(kind.into(), from.as_str(), to.as_str())).unwrap_or(true)
    }
}

/// Why a plugin file was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// No such file.
    Missing,
    /// Not a shared library, or not one with a DMconnect root module.
    NotAPlugin(String),
    /// Built against an incompatible plugin-api (type layouts differ).
    Incompatible(String),
    /// Built against a plugin-api whose version this server does not provide: (its version, ours as `0.1.x`).
    ApiVersion(String, String),
    /// Its name is not the one it was loaded as.
    WrongName(String),
    /// Its constructor failed or panicked.
    InitFailed(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Missing => write!(f, "file not found"),
            LoadError::NotAPlugin(why) => write!(f, "not a DMconnect capability plugin ({why})"),
            LoadError::Incompatible(why) => write!(f, "built against an incompatible plugin-api: {why}"),
            LoadError::ApiVersion(theirs, ours) => {
                write!(f, "built against plugin-api {theirs}, this server provides {ours} — rebuild it against {ours}")
            }
            LoadError::WrongName(name) => write!(f, "the plugin calls itself {name:?}"),
            LoadError::InitFailed(why) => write!(f, "init failed: {why}"),
        }
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    line.chars().take(300).collect()
}

fn library_error(e: LibraryError) -> LoadError {
    match e {
        LibraryError::OpenError { err, .. } => LoadError::NotAPlugin(first_line(&err.to_string())),
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin("it exports no abi_stable root module".into()),
        LibraryError::InvalidAbiHeader(h) => LoadError::Incompatible(format!(
            "abi_stable ABI header {}.{} is not this server's",
            h.abi_major, h.abi_minor
        )),
        LibraryError::IncompatibleVersionNumber { expected_version, actual_version, .. } => LoadError::Incompatible(
            format!("plugin-api {actual_version}, this server needs a version compatible with {expected_version}"),
        ),
        LibraryError::AbiInstability(details) => {
            LoadError::Incompatible(format!("type layouts differ: {}", first_line(&details.to_string())))
        }
        other => LoadError::Incompatible(first_line(&other.to_string())),
    }
}

/// The plugin-api version series this server provides, e.g. `0.1.x`.
pub fn api_series() -> String {
    series(env!("CARGO_PKG_VERSION"))
}

/// `0.1.1` -> `0.1.x`, `1.2.3` -> `1.x`: the versions one promise covers.
fn series(v: &str) -> String {
    let mut parts = v.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}.x"),
        (Some(major), _) => format!("{major}.x"),
        _ => v.to_owned(),
    }
}

/// Refuses a library built against another series of plugin-api, before abi_stable's
/// layout check (whose report of the same fact is thousands of lines long).
fn check_version(theirs: &abi_stable::sabi_types::VersionStrings) -> Result<(), LoadError> {
    let theirs = theirs.version.as_str();
    if series(theirs) == api_series() {
        Ok(())
    } else {
        Err(LoadError::ApiVersion(theirs.to_owned(), api_series()))
    }
}

/// An opened plugin library whose version and layout were checked; not started yet.
/// Libraries are never unloaded (abi_stable's rule: that keeps every reference into them valid).
pub struct Library {
    module: CapabilityModRef,
    api: String,
    /// Where it was loaded from.
    pub path: PathBuf,
}

impl Library {
    /// Opens `path` and checks it: a shared library, exporting a DMconnect root
    /// module, built against a compatible plugin-api with matching type layouts.
    pub fn open(path: &Path) -> Result<Library, LoadError> {
        if !path.is_file() {
            return Err(LoadError::Missing);
        }
        // Several plugins share one root-module type, so `RootModule::load_from_file`
        // (one library per type, cached) does not fit; this is the same check per file.
        let header = lib_header_from_path(path).map_err(library_error)?;
        let api = header.version_strings().version.as_str().to_owned();
        check_version(&header.version_strings())?;
        // Layouts are checked against the first release (see `abi_0_1_0`); later
        // additions are optional vtable entries that abi_stable looks up per object.
        header.ensure_layout::<crate::abi_0_1_0::CapabilityModRef>().map_err(library_error)?;
        // SAFETY: the layout was just checked against 0.1.0, of which the current types
        // are an extension with only optional (defaulted) vtable entries added at the end.
        let module =
            unsafe { header.init_root_module_with_unchecked_layout::<CapabilityModRef>() }.map_err(library_error)?;
        Ok(Library { module, api, path: path.to_path_buf() })
    }

    /// The capability's name, as it declares it.
    pub fn name(&self) -> String {
        self.module.name().as_str().to_owned()
    }

    /// The plugin-api version it was built against.
    pub fn api_version(&self) -> &str {
        &self.api
    }

    /// The capability's version.
    pub fn version(&self) -> String {
        self.module.version().as_str().to_owned()
    }

    /// Starts the capability with its host services.
    pub fn start<H: HostServices>(&self, host: H) -> Result<Plugin, LoadError> {
        Plugin::started((self.module.new())(host_box(host)))
    }
}

fn strings(v: RVec<RString>) -> Vec<String> {
    v.into_iter().map(RString::into_string).collect()
}

fn info_from(i: FfiInfo, hooks: u64) -> Info {
    Info {
        name: i.name.into_string(),
        version: i.version.into_string(),
        commands: i
            .commands
            .into_iter()
            .map(|c| Command {
                name: c.name.into_string(),
                args: c.args.into_string(),
                description: c.description.into_string(),
            })
            .collect(),
        filters_delivery: i.filters_delivery,
        s2s_types: strings(i.s2s_types),
        http_prefixes: strings(i.http_prefixes),
        http_max_body: i.http_max_body,
        tick_secs: i.tick_secs,
        room_lines: hooks & HOOK_ROOM_LINES != 0,
        room_joins: hooks & HOOK_ROOM_JOINS != 0,
        kv_changes: hooks & HOOK_KV_CHANGES != 0,
        http_body_file: hooks & HOOK_HTTP_BODY_FILE != 0,
    }
}

fn result<T>(r: FfiResult<T>) -> Result<T, String> {
    r.into_result().map_err(RString::into_string)
}

fn rs(s: &str) -> RStr<'_> {
    RStr::from_str(s)
}

/// The FFI object for the server's services to one capability.
pub(crate) fn host_box<H: HostServices>(host: H) -> FfiHostBox {
    FfiHost_TO::from_value(HostAdapter { host }, TD_Opaque)
}

/// A started capability. Every call returns `Err` (one line) if the plugin panicked.
pub struct Plugin {
    obj: FfiCapabilityBox,
    info: Info,
}

impl Plugin {
    /// A plugin from its constructor's result (its info is read once, here).
    pub(crate) fn started(built: FfiResult<FfiCapabilityBox>) -> Result<Plugin, LoadError> {
        let obj = built.into_result().map_err(|e| LoadError::InitFailed(e.into_string()))?;
        let info = obj.info().into_result().map_err(|e| LoadError::InitFailed(e.into_string()))?;
        let hooks = obj.hooks().into_result().map_err(|e| LoadError::InitFailed(e.into_string()))?;
        Ok(Plugin { obj, info: info_from(info, hooks) })
    }

    /// Its name, commands and hooks, read once at start.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// Runs `/NAME-COMMAND ARGS`; `Ok(None)` for an unknown command, `Ok(Some(""))` sends nothing.
    pub fn command(&self, command: &str, args: &str, caller: &Caller) -> Result<Option<String>, String> {
        result(self.obj.command(rs(command), rs(args), ffi_caller(caller)))
            .map(|o| o.into_option().map(RString::into_string))
    }

    /// The delivery filter.
    pub fn allow(&self, kind: DeliveryKind, from: &str, to: &str) -> Result<bool, String> {
        result(self.obj.allow(kind.into(), rs(from), rs(to)))
    }

    /// A presence event.
    pub fn presence(&self, account: &str, host: Option<&str>, online: bool) -> Result<(), String> {
        let host = match host {
            Some(h) => RSome(rs(h)),
            None => RNone,
        };
        result(self.obj.presence(rs(account), host, online))
    }

    /// A server-to-server message of one of its types; `Ok(None)` if it did not handle it.
    pub fn s2s(&self, msg_type: &str, from_host: &str, json: &str) -> Result<Option<String>, String> {
        result(self.obj.s2s(rs(msg_type), rs(from_host), rs(json))).map(|o| o.into_option().map(RString::into_string))
    }

    /// An HTTP request.
    pub fn http(&self, req: HttpRequest) -> Result<HttpResponse, String> {
        response(result(self.obj.http(ffi_request(req)))?)
    }

    /// An HTTP request whose body is in `body_file` (only for a plugin whose info has `http_body_file`).
    pub fn http_body_file(&self, req: HttpRequest, body_file: &Path) -> Result<HttpResponse, String> {
        let file = body_file.to_string_lossy();
        response(result(self.obj.http_body_file(ffi_request(req), rs(&file)))?)
    }

    /// Periodic housekeeping.
    pub fn tick(&self) -> Result<(), String> {
        result(self.obj.tick())
    }

    /// The server stops.
    pub fn shutdown(&self) -> Result<(), String> {
        result(self.obj.shutdown())
    }

    /// A line of a local room (only for a plugin whose info has `room_lines`).
    pub fn room_line(
        &self,
        room: &str,
        kind: DeliveryKind,
        sender: &str,
        text: &str,
        time_ms: u64,
    ) -> Result<(), String> {
        result(self.obj.room_line(rs(room), kind.into(), rs(sender), rs(text), time_ms))
    }

    /// A session joined a local room (only for a plugin whose info has `room_joins`).
    pub fn room_joined(&self, room: &str, caller: &Caller) -> Result<(), String> {
        result(self.obj.room_joined(rs(room), ffi_caller(caller)))
    }

    /// Another node changed one of its storage keys (only for a plugin whose info has `kv_changes`).
    pub fn kv_changed(&self, key: &str) -> Result<(), String> {
        result(self.obj.kv_changed(rs(key)))
    }
}

fn ffi_request(req: HttpRequest) -> FfiHttpRequest {
    FfiHttpRequest {
        method: req.method.into(),
        path: req.path.into(),
        headers: req.headers.into_iter().map(|(k, v)| Tuple2(RString::from(k), RString::from(v))).collect(),
        body: req.body.into(),
    }
}

fn response(resp: FfiHttpResponse) -> Result<HttpResponse, String> {
    let body = match resp.file.into_option() {
        Some(p) => HttpBody::File(PathBuf::from(p.into_string())),
        None => HttpBody::Bytes(resp.body.into_vec()),
    };
    Ok(HttpResponse {
        status: resp.status,
        headers: resp.headers.into_iter().map(|t| (t.0.into_string(), t.1.into_string())).collect(),
        body,
    })
}

fn ffi_caller(caller: &Caller) -> FfiCaller {
    FfiCaller {
        account: caller.account.as_str().into(),
        session_id: caller.session_id,
        peer_ip: caller.peer_ip.to_string().into(),
        room: caller.room.as_deref().map(RString::from).into(),
    }
}

//! The ABI itself: `#[repr(C)]` types, the two `#[sabi_trait]` objects and the
//! root module. Nothing outside plugin-api should need these; they are public
//! only so that [`crate::export_capability!`] can name them.
//!
//! Layout and version are checked by abi_stable when a library is opened: a
//! plugin built against an incompatible plugin-api is refused, never called.
//!
//! Compatibility rules (docs/writing-a-capability.md): existing types never
//! change. New trait methods go at the END of a `#[sabi_trait]`, after the
//! `last_prefix_field`, and always have a default body: a plugin built before
//! they existed has no vtable entry for them and the default runs instead.
//! Every such addition bumps the patch version of plugin-api (0.1.0 -> 0.1.1 -> 0.1.2 -> 0.1.3).

// `#[sabi_trait]` expands to impls inside a generated const item.
#![allow(non_local_definitions)]

pub use abi_stable;

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, RErr, ROk, ROption, RResult, RStr, RString, RVec, Tuple2};
use abi_stable::{declare_root_module_statics, package_version_strings, sabi_trait, StableAbi};

/// A command in [`FfiInfo`].
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiCommand {
    /// See [`crate::Command::name`].
    pub name: RString,
    /// See [`crate::Command::args`].
    pub args: RString,
    /// See [`crate::Command::description`].
    pub description: RString,
}

/// [`crate::loader::Info`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiInfo {
    /// Name.
    pub name: RString,
    /// Version.
    pub version: RString,
    /// Commands.
    pub commands: RVec<FfiCommand>,
    /// Asks the delivery filter.
    pub filters_delivery: bool,
    /// Owned s2s types.
    pub s2s_types: RVec<RString>,
    /// HTTP prefixes.
    pub http_prefixes: RVec<RString>,
    /// HTTP body limit.
    pub http_max_body: u64,
    /// Tick period.
    pub tick_secs: u64,
}

/// [`crate::Caller`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiCaller {
    /// Account.
    pub account: RString,
    /// Session id.
    pub session_id: u64,
    /// Peer IP, as text.
    pub peer_ip: RString,
    /// Subserver.
    pub room: ROption<RString>,
}

/// [`crate::DeliveryKind`] across the boundary.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiKind {
    /// Chat.
    Chat,
    /// Act.
    Act,
    /// Join notice.
    Join,
    /// Leave notice.
    Leave,
    /// Private message.
    Pm,
}

impl From<crate::DeliveryKind> for FfiKind {
    fn from(k: crate::DeliveryKind) -> Self {
        use crate::DeliveryKind as K;
        match k {
            K::Chat => FfiKind::Chat,
            K::Act => FfiKind::Act,
            K::Join => FfiKind::Join,
            K::Leave => FfiKind::Leave,
            K::Pm => FfiKind::Pm,
        }
    }
}

impl From<FfiKind> for crate::DeliveryKind {
    fn from(k: FfiKind) -> Self {
        use crate::DeliveryKind as K;
        match k {
            FfiKind::Chat => K::Chat,
            FfiKind::Act => K::Act,
            FfiKind::Join => K::Join,
            FfiKind::Leave => K::Leave,
            FfiKind::Pm => K::Pm,
        }
    }
}

/// Header pairs.
pub type FfiHeaders = RVec<Tuple2<RString, RString>>;

/// [`crate::HttpRequest`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiHttpRequest {
    /// Method.
    pub method: RString,
    /// Path and query.
    pub path: RString,
    /// Headers.
    pub headers: FfiHeaders,
    /// Body.
    pub body: RVec<u8>,
}

/// [`crate::HttpResponse`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiHttpResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: FfiHeaders,
    /// Body bytes (when `file` is none).
    pub body: RVec<u8>,
    /// A file to stream instead.
    pub file: ROption<RString>,
}

/// Errors across the boundary are one line of text (a caught panic, a failed init).
pub type FfiResult<T> = RResult<T, RString>;

/// The capability object the plugin hands to the server.
#[sabi_trait]
pub trait FfiCapability: Send + Sync {
    /// Name, commands and what it hooks.
    fn info(&self) -> FfiResult<FfiInfo>;
    /// `/NAME-COMMAND ARGS`; `RNone` for an unknown command.
    fn command(&self, command: RStr<'_>, args: RStr<'_>, caller: FfiCaller) -> FfiResult<ROption<RString>>;
    /// The delivery filter.
    fn allow(&self, kind: FfiKind, from: RStr<'_>, to: RStr<'_>) -> FfiResult<bool>;
    /// Presence events.
    fn presence(&self, account: RStr<'_>, host: ROption<RStr<'_>>, online: bool) -> FfiResult<()>;
    /// Server-to-server messages.
    fn s2s(&self, msg_type: RStr<'_>, from_host: RStr<'_>, json: RStr<'_>) -> FfiResult<ROption<RString>>;
    /// HTTP requests.
    fn http(&self, request: FfiHttpRequest) -> FfiResult<FfiHttpResponse>;
    /// Periodic housekeeping.
    fn tick(&self) -> FfiResult<()>;
    /// The server stops.
    #[sabi(last_prefix_field)]
    fn shutdown(&self) -> FfiResult<()>;

    // --- 0.1.1: everything below has a default, which is what an older plugin gets. ---

    /// Extra hooks it asks for, as [`HOOK_ROOM_LINES`] | [`HOOK_ROOM_JOINS`] bits (read once, at load).
    fn hooks(&self) -> FfiResult<u64> {
        ROk(0)
    }
    /// A line of a local room, once per line (not per recipient); `time_ms` is Unix time.
    fn room_line(
        &self,
        _room: RStr<'_>,
        _kind: FfiKind,
        _sender: RStr<'_>,
        _text: RStr<'_>,
        _time_ms: u64,
    ) -> FfiResult<()> {
        ROk(())
    }
    /// A session joined a local room.
    fn room_joined(&self, _room: RStr<'_>, _caller: FfiCaller) -> FfiResult<()> {
        ROk(())
    }

    // --- 0.1.2 (cluster): defaults as above. ---

    /// Another node of this host changed `key` of this capability's storage (bit [`HOOK_KV_CHANGES`]).
    fn kv_changed(&self, _key: RStr<'_>) -> FfiResult<()> {
        ROk(())
    }

    // --- 0.1.3 (uploads): defaults answer for a plugin built before these existed. ---

    /// An HTTP request whose body the server saved to the file `body_file` (`request.body` is
    /// empty); only called when [`FfiCapability::hooks`] has [`HOOK_HTTP_BODY_FILE`].
    fn http_body_file(&self, _request: FfiHttpRequest, _body_file: RStr<'_>) -> FfiResult<FfiHttpResponse> {
        RErr(OLD_PLUGIN.into())
    }
}

/// [`FfiCapability::hooks`] bit: call [`FfiCapability::room_line`].
pub const HOOK_ROOM_LINES: u64 = 1;
/// [`FfiCapability::hooks`] bit: call [`FfiCapability::room_joined`].
pub const HOOK_ROOM_JOINS: u64 = 2;
/// [`FfiCapability::hooks`] bit: call [`FfiCapability::kv_changed`] (0.1.2).
pub const HOOK_KV_CHANGES: u64 = 4;
/// [`FfiCapability::hooks`] bit: stream HTTP request bodies to a file, call [`FfiCapability::http_body_file`] (0.1.3).
pub const HOOK_HTTP_BODY_FILE: u64 = 8;

/// What a method added to [`FfiCapability`] answers when the plugin predates it.
pub const OLD_PLUGIN: &str = "this plugin's plugin-api is too old for this call";

/// What a method added to [`FfiHost`] answers when the server predates it.
pub const OLD_SERVER: &str = "this server's plugin-api is too old for this call";

/// The boxed capability object.
pub type FfiCapabilityBox = FfiCapability_TO<'static, RBox<()>>;

/// The server's services, as the plugin sees them (one object per capability).
#[sabi_trait]
pub trait FfiHost: Send + Sync {
    /// Sends a line to every session of an account.
    fn send_to_account(&self, account: RStr<'_>, text: RStr<'_>) -> bool;
    /// Sends a line to one session.
    fn send_to_session(&self, session_id: u64, text: RStr<'_>) -> bool;
    /// Is any session of the account logged in?
    fn is_online(&self, account: RStr<'_>) -> bool;
    /// Distinct peer IPs of the account's sessions.
    fn session_ips(&self, account: RStr<'_>) -> RVec<RString>;
    /// Does the account exist?
    fn account_exists(&self, account: RStr<'_>) -> FfiResult<bool>;
    /// Advertised host name.
    fn host_name(&self) -> RString;
    /// Main port.
    fn main_port(&self) -> u16;
    /// The capability's data directory.
    fn data_dir(&self) -> RString;
    /// The capability's config table as JSON.
    fn config_json(&self) -> RString;
    /// KV get.
    fn kv_get(&self, key: RStr<'_>) -> FfiResult<ROption<RString>>;
    /// KV set.
    fn kv_set(&self, key: RStr<'_>, value: RStr<'_>) -> FfiResult<()>;
    /// KV delete.
    fn kv_delete(&self, key: RStr<'_>) -> FfiResult<bool>;
    /// KV list by prefix.
    fn kv_list(&self, prefix: RStr<'_>) -> FfiResult<RVec<Tuple2<RString, RString>>>;
    /// A blocking server-to-server request.
    fn s2s_request(&self, host: RStr<'_>, json: RStr<'_>) -> FfiResult<RString>;
    /// A fire-and-forget server-to-server message.
    fn s2s_send(&self, host: RStr<'_>, json: RStr<'_>);
    /// A log line.
    #[sabi(last_prefix_field)]
    fn log(&self, level: u8, message: RStr<'_>);

    // --- 0.1.1: defaults answer for a server built before these existed. ---

    /// KV: adds `delta` to an integer value (absent = 0) atomically; the new value.
    fn kv_increment(&self, _key: RStr<'_>, _delta: i64) -> FfiResult<i64> {
        RErr(OLD_SERVER.into())
    }
    /// KV: sets (or deletes, `new` none) only if the value is `expected` (none = absent); true if it did.
    fn kv_compare_and_set(
        &self,
        _key: RStr<'_>,
        _expected: ROption<RStr<'_>>,
        _new: ROption<RStr<'_>>,
    ) -> FfiResult<bool> {
        RErr(OLD_SERVER.into())
    }
    /// Would the loaded delivery filters let a line of `kind` from `from` reach `to`?
    fn allowed(&self, _kind: FfiKind, _from: RStr<'_>, _to: RStr<'_>) -> bool {
        true
    }
}

/// The boxed host object.
pub type FfiHostBox = FfiHost_TO<'static, RBox<()>>;

/// The root module every capability library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = CapabilityModRef)))]
#[sabi(missing_field(panic))]
pub struct CapabilityMod {
    /// The capability's name.
    pub name: RStr<'static>,
    /// The capability's version.
    pub version: RStr<'static>,
    /// Builds the capability, handing it its host.
    #[sabi(last_prefix_field)]
    pub new: extern "C" fn(FfiHostBox) -> FfiResult<FfiCapabilityBox>,
}

impl RootModule for CapabilityModRef {
    declare_root_module_statics! {CapabilityModRef}
    const BASE_NAME: &'static str = "dmcap";
    const NAME: &'static str = "dmconnect capability";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The exported symbol's name (abi_stable's mangled root-module loader name).
/// The export macro must use the same literal; a unit test keeps them equal.
pub const ROOT_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

//! The ABI exactly as plugin-api 0.1.0 declared it (commit c1a717a), frozen.
//! The loader checks every library's layout against THIS, not against
//! [`crate::ffi`]: abi_stable refuses an interface that knows more vtable
//! entries than the library has, so checking against the first release is
//! what lets plugins built against any 0.1.x load. Never edit this file.

// `#[sabi_trait]` expands to impls inside a generated const item.
#![allow(non_local_definitions, missing_docs, dead_code, clippy::wrong_self_convention)]

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, ROption, RResult, RStr, RString, RVec, Tuple2};
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

/// Info across the boundary.
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

/// Caller across the boundary.
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

/// DeliveryKind across the boundary.
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

/// Header pairs.
pub type FfiHeaders = RVec<Tuple2<RString, RString>>;

/// HttpRequest across the boundary.
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

/// HttpResponse across the boundary.
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
}

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

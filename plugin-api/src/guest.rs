//! The plugin side of the boundary: wraps a [`Capability`] into the FFI object,
//! catching every panic so that it never unwinds into the server.
//! Used by [`crate::export_capability!`]; authors never call this directly.

use crate::capability::{Capability, IntoCapability};
use crate::ffi::*;
use crate::host::Host;
use crate::types::{Caller, HttpBody, HttpRequest, Presence, Reply, RoomLine};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, RNone, ROk, ROption, RSome, RStr, RString, RVec, Tuple2};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The text of a caught panic.
pub fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    };
    format!("panicked: {msg}")
}

/// Runs `f`, turning a panic into an error.
pub fn guard<T>(f: impl FnOnce() -> T) -> FfiResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => ROk(v),
        Err(p) => RErr(panic_text(p).into()),
    }
}

/// Holds the author's capability behind the FFI trait.
struct Adapter<C: Capability> {
    cap: C,
}

impl<C: Capability> Adapter<C> {
    fn info(&self) -> FfiInfo {
        let commands = self
            .cap
            .commands()
            .into_iter()
            .map(|c| FfiCommand { name: c.name.into(), args: c.args.into(), description: c.description.into() })
            .collect();
        let strings = |v: Vec<String>| v.into_iter().map(RString::from).collect::<RVec<_>>();
        FfiInfo {
            name: C::NAME.into(),
            version: C::VERSION.into(),
            commands,
            filters_delivery: self.cap.filters_delivery(),
            s2s_types: strings(self.cap.s2s_types()),
            http_prefixes: strings(self.cap.http_prefixes()),
            http_max_body: self.cap.http_max_body(),
            tick_secs: self.cap.tick_secs(),
        }
    }

    fn command(&self, command: &str, args: &str, caller: FfiCaller) -> Option<String> {
        let spec = self.cap.commands().into_iter().find(|c| c.name == command)?;
        let caller = caller_from(caller);
        Some(match self.cap.command(command, args, &caller) {
            Reply::Text(t) => t,
            Reply::Usage => spec.usage(C::NAME),
            Reply::Silent => String::new(),
        })
    }
}

fn caller_from(caller: FfiCaller) -> Caller {
    Caller {
        account: caller.account.into_string(),
        session_id: caller.session_id,
        peer_ip: caller.peer_ip.parse().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        room: caller.room.into_option().map(RString::into_string),
    }
}

fn headers(v: FfiHeaders) -> Vec<(String, String)> {
    v.into_iter().map(|t| (t.0.into_string(), t.1.into_string())).collect()
}

impl<C: Capability> FfiCapability for Adapter<C> {
    fn info(&self) -> FfiResult<FfiInfo> {
        guard(|| Adapter::info(self))
    }

    fn command(&self, command: RStr<'_>, args: RStr<'_>, caller: FfiCaller) -> FfiResult<ROption<RString>> {
        guard(|| Adapter::command(self, command.as_str(), args.as_str(), caller).map(RString::from).into())
    }

    fn allow(&self, k: FfiKind, from: RStr<'_>, to: RStr<'_>) -> FfiResult<bool> {
        guard(|| self.cap.allow_delivery(k.into(), from.as_str(), to.as_str()))
    }

    fn presence(&self, account: RStr<'_>, host: ROption<RStr<'_>>, online: bool) -> FfiResult<()> {
        let event = Presence {
            account: account.as_str().to_owned(),
            host: host.into_option().map(|h| h.as_str().to_owned()),
            online,
        };
        guard(|| self.cap.presence(&event))
    }

    fn s2s(&self, msg_type: RStr<'_>, from_host: RStr<'_>, json: RStr<'_>) -> FfiResult<ROption<RString>> {
        guard(|| self.cap.s2s(msg_type.as_str(), from_host.as_str(), json.as_str()).map(RString::from).into())
    }

    fn http(&self, request: FfiHttpRequest) -> FfiResult<FfiHttpResponse> {
        let req = plain_request(request);
        guard(|| ffi_response(self.cap.http(req)))
    }

    fn tick(&self) -> FfiResult<()> {
        guard(|| self.cap.tick())
    }

    fn shutdown(&self) -> FfiResult<()> {
        guard(|| self.cap.shutdown())
    }

    fn hooks(&self) -> FfiResult<u64> {
        guard(|| {
            let bit = |on: bool, b: u64| if on { b } else { 0 };
            bit(self.cap.wants_room_lines(), HOOK_ROOM_LINES)
                | bit(self.cap.wants_room_joins(), HOOK_ROOM_JOINS)
                | bit(self.cap.wants_kv_changes(), HOOK_KV_CHANGES)
                | bit(self.cap.http_body_to_file(), HOOK_HTTP_BODY_FILE)
        })
    }

    fn room_line(
        &self,
        room: RStr<'_>,
        kind: FfiKind,
        sender: RStr<'_>,
        text: RStr<'_>,
        time_ms: u64,
    ) -> FfiResult<()> {
        let line = RoomLine {
            room: room.as_str().to_owned(),
            kind: kind.into(),
            sender: sender.as_str().to_owned(),
            text: text.as_str().to_owned(),
            time_ms,
        };
        guard(|| self.cap.room_line(&line))
    }

    fn room_joined(&self, room: RStr<'_>, caller: FfiCaller) -> FfiResult<()> {
        let caller = caller_from(caller);
        guard(|| self.cap.room_joined(room.as_str(), &caller))
    }

    fn kv_changed(&self, key: RStr<'_>) -> FfiResult<()> {
        guard(|| self.cap.kv_changed(key.as_str()))
    }

    fn http_body_file(&self, request: FfiHttpRequest, body_file: RStr<'_>) -> FfiResult<FfiHttpResponse> {
        let req = plain_request(request);
        let path = std::path::PathBuf::from(body_file.as_str());
        guard(|| ffi_response(self.cap.http_body_file(req, &path)))
    }
}

fn plain_request(request: FfiHttpRequest) -> HttpRequest {
    HttpRequest {
        method: request.method.into_string(),
        path: request.path.into_string(),
        headers: headers(request.headers),
        body: request.body.into_vec(),
    }
}

fn ffi_response(resp: crate::HttpResponse) -> FfiHttpResponse {
    let hdrs = resp.headers.into_iter().map(|(k, v)| Tuple2(RString::from(k), RString::from(v))).collect();
    let (body, file) = match resp.body {
        HttpBody::Bytes(b) => (RVec::from(b), RNone),
        HttpBody::File(p) => (RVec::new(), RSome(RString::from(p.to_string_lossy().into_owned()))),
    };
    FfiHttpResponse { status: resp.status, headers: hdrs, body, file }
}

/// Routes this plugin's panic messages to the server's log instead of stderr.
/// A `cdylib` carries its own copy of std, so this hook only sees the plugin's panics.
pub fn log_panics(host: FfiHostBox, name: &'static str) -> Host {
    let host = Host::new(host, name);
    let log = host.clone();
    std::panic::set_hook(Box::new(move |info| {
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_owned());
        log.error(&format!("panicked{at}: {msg}"));
    }));
    host
}

/// Builds the capability with `ctor`, catching a panic or an error.
pub fn construct<F, R>(host: FfiHostBox, ctor: F) -> FfiResult<FfiCapabilityBox>
where
    F: FnOnce(Host) -> R,
    R: IntoCapability,
{
    build(Host::new(host, <R::Cap as Capability>::NAME), ctor)
}

fn build<F, R>(host: Host, ctor: F) -> FfiResult<FfiCapabilityBox>
where
    F: FnOnce(Host) -> R,
    R: IntoCapability,
{
    match guard(|| ctor(host).into_capability()) {
        ROk(Ok(cap)) => ROk(FfiCapability_TO::from_value(Adapter { cap }, TD_Opaque)),
        ROk(Err(e)) => RErr(e.into()),
        RErr(e) => RErr(e),
    }
}

/// [`construct`] for a real plugin library: its panics are logged through the server first.
pub fn construct_logged<F, R>(host: FfiHostBox, ctor: F) -> FfiResult<FfiCapabilityBox>
where
    F: FnOnce(Host) -> R,
    R: IntoCapability,
{
    let host = log_panics(host, <R::Cap as Capability>::NAME);
    build(host, ctor)
}

/// The capability type a constructor builds (lets the macro name it without the author saying it).
pub fn name_of<F, R>(_ctor: &F) -> &'static str
where
    F: FnOnce(Host) -> R,
    R: IntoCapability,
{
    <R::Cap as Capability>::NAME
}

/// The version of the capability a constructor builds.
pub fn version_of<F, R>(_ctor: &F) -> &'static str
where
    F: FnOnce(Host) -> R,
    R: IntoCapability,
{
    <R::Cap as Capability>::VERSION
}

/// The root module, leaked once for the library's lifetime.
pub fn root_module(
    name: &'static str,
    version: &'static str,
    new: extern "C" fn(FfiHostBox) -> FfiResult<FfiCapabilityBox>,
) -> CapabilityModRef {
    CapabilityMod { name: RStr::from_str(name), version: RStr::from_str(version), new }.leak_into_prefix()
}

/// The library header the exported symbol holds (abi_stable checks its version and layout on load).
pub const fn lib_header(
    loader: extern "C" fn() -> abi_stable::library::RootModuleResult,
) -> abi_stable::library::LibHeader {
    // SAFETY: `loader` is the macro-generated function returning this crate's `CapabilityModRef`.
    unsafe {
        abi_stable::library::LibHeader::from_constructor::<CapabilityModRef>(
            loader,
            abi_stable::library::CheckTypeLayout::Yes,
        )
    }
}

/// Calls the root-module function the way abi_stable's loader expects.
pub fn call_loader(f: fn() -> CapabilityModRef) -> abi_stable::library::RootModuleResult {
    abi_stable::library::__call_root_module_loader(f)
}

/// Exports a capability from a `cdylib` crate. The argument is its constructor:
/// a function (or closure) taking a [`crate::Host`] and returning the capability
/// or `Result<capability, error>`.
///
/// ```ignore
/// plugin_api::export_capability!(Dice::new);
/// ```
#[macro_export]
macro_rules! export_capability {
    ($ctor:expr) => {
        const _: () = {
            extern "C" fn __dmcap_new(
                host: $crate::ffi::FfiHostBox,
            ) -> $crate::ffi::FfiResult<$crate::ffi::FfiCapabilityBox> {
                $crate::guest::construct_logged(host, $ctor)
            }

            fn __dmcap_root() -> $crate::ffi::CapabilityModRef {
                let ctor = $ctor;
                $crate::guest::root_module($crate::guest::name_of(&ctor), $crate::guest::version_of(&ctor), __dmcap_new)
            }

            extern "C" fn __dmcap_loader() -> $crate::ffi::abi_stable::library::RootModuleResult {
                $crate::guest::call_loader(__dmcap_root)
            }

            // The symbol abi_stable looks for (see `ffi::ROOT_SYMBOL`).
            #[unsafe(no_mangle)]
            pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::ffi::abi_stable::library::LibHeader =
                $crate::guest::lib_header(__dmcap_loader);
        };
    };
}

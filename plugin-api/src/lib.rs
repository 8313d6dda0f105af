//! The stable boundary between the DMconnect server and its capability plugins.
//!
//! A capability is a `cdylib` crate that depends on this crate only. Its author
//! implements [`Capability`] in ordinary safe Rust and exports it with
//! [`export_capability!`]; the server opens `libdmcap_NAME.so`, abi_stable checks
//! that both sides were built against compatible versions of this crate (types
//! and layouts), and the capability gets a [`Host`] for everything it may ask of
//! the server. Panics inside a capability are caught here, at the boundary.
//!
//! See `docs/writing-a-capability.md` for a walk-through.
//!
//! ```ignore
//! use plugin_api::{Caller, Capability, Command, Host, Reply};
//!
//! pub struct Hello { host: Host }
//!
//! impl Hello {
//!     pub fn new(host: Host) -> Hello { Hello { host } }
//! }
//!
//! impl Capability for Hello {
//!     const NAME: &'static str = "hello";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     fn commands(&self) -> Vec<Command> {
//!         vec![Command::new("say", "<text>", "Say hello")]
//!     }
//!     fn command(&self, _cmd: &str, args: &str, caller: &Caller) -> Reply {
//!         if args.is_empty() { return Reply::Usage; }
//!         format!("Hello {}, from {}: {args}", caller.account, self.host.host_name()).into()
//!     }
//! }
//!
//! plugin_api::export_capability!(Hello::new);
//! ```

mod abi_0_1_0;
mod capability;
mod config_error;
#[doc(hidden)]
pub mod ffi;
#[doc(hidden)]
pub mod guest;
mod host;
pub mod loader;
pub mod testing;
mod types;

pub use capability::{Capability, IntoCapability};
pub use host::Host;
pub use serde;
pub use serde_json;
pub use types::{Caller, Command, DeliveryKind, HttpBody, HttpRequest, HttpResponse, Level, Presence, Reply, RoomLine};

#[cfg(test)]
mod tests;

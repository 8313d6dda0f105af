//! Transports put a framing in front of the one session state machine:
//! plain TCP (WIRE §2), the legacy encrypted port (§5), TLS and WebSocket.

use async_trait::async_trait;
use bytes::Bytes;
use std::io;

pub use crate::framing::Inbound;

pub mod legacy;
pub mod plain;
pub mod prefixed;
pub mod tls;
pub mod websocket;

/// Where a session's input comes from.
#[async_trait]
pub trait MessageReader: Send {
    /// The next client message, or `None` once the connection is closed or broken.
    async fn next(&mut self) -> Option<Inbound>;
}

/// Where a session's output goes.
#[async_trait]
pub trait MessageWriter: Send {
    /// Writes a batch of outbound messages. Each ends with `\n`; a message may
    /// hold several lines (help texts). A batch of one is one write call.
    async fn write(&mut self, batch: &[Bytes]) -> io::Result<()>;
    /// Closes the write side after the last batch.
    async fn shutdown(&mut self);
}

//! How history lines look to a user, and which of them a user may see.

use crate::db::Line;
use crate::time::format_ms;
use plugin_api::{DeliveryKind, Host};

/// The last line of every non-empty answer.
pub const END: &str = "End of history.";
/// The whole answer when nothing matches.
pub const NONE: &str = "No history.";

/// The stored name of a kind.
pub fn kind_name(k: DeliveryKind) -> &'static str {
    match k {
        DeliveryKind::Chat => "chat",
        DeliveryKind::Act => "act",
        DeliveryKind::Join => "join",
        DeliveryKind::Leave => "leave",
        DeliveryKind::Pm => "pm",
    }
}

fn kind_of(name: &str) -> DeliveryKind {
    match name {
        "act" => DeliveryKind::Act,
        "join" => DeliveryKind::Join,
        "leave" => DeliveryKind::Leave,
        _ => DeliveryKind::Chat,
    }
}

/// The lines `account` may see: the server's delivery filters (e.g. `ignore`) decide.
pub fn visible(host: &Host, account: &str, lines: &[Line]) -> Vec<Line> {
    lines.iter().filter(|l| host.allowed(kind_of(&l.kind), &l.from, account)).cloned().collect()
}

/// One line as shown: `[YYYY-MM-DD HH:MM] alice: hi`, `[...] *** alice waves`.
/// Senders of this host (`me`) are shown without `@me`.
pub fn line(l: &Line, me: &str) -> String {
    let from = l.from.strip_suffix(&format!("@{me}")).unwrap_or(&l.from);
    let at = format_ms(l.t);
    match l.kind.as_str() {
        "act" => format!("[{at}] *** {from} {}", l.text),
        "join" => format!("[{at}] *** {from} has joined the server."),
        "leave" => format!("[{at}] *** {from} has left the server."),
        _ => format!("[{at}] {from}: {}", l.text),
    }
}

/// A whole answer: the lines and `End of history.`, or `No history.`.
pub fn lines(v: &[Line], me: &str) -> String {
    if v.is_empty() {
        return NONE.to_owned();
    }
    let mut out: Vec<String> = v.iter().map(|l| line(l, me)).collect();
    out.push(END.to_owned());
    out.join("\n")
}

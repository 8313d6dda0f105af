//! A minimal NATS subscriber that counts the cluster bus's messages by kind, so a
//! cluster run can show how many bus messages one chat line costs (`--nats URL`).
//! Speaks the plain NATS text protocol (INFO/CONNECT/SUB/MSG/HMSG/PING).

use serde_json::{json, Value};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Messages seen on `dmc.>` per kind (`dmc.HOST.KIND.…`).
#[derive(Default, Debug)]
pub struct BusCounts {
    /// Room lines and room events (`room`).
    pub room: AtomicU64,
    /// Lines for an account's sessions (`user`).
    pub user: AtomicU64,
    /// Node heartbeats (`node`).
    pub node: AtomicU64,
    /// Anything else.
    pub other: AtomicU64,
}

impl BusCounts {
    /// The counts as JSON.
    pub fn snapshot(&self) -> [u64; 4] {
        [&self.room, &self.user, &self.node, &self.other].map(|a| a.load(Relaxed))
    }

    fn count(&self, subject: &str) {
        let kind = subject.split('.').nth(2).unwrap_or("");
        match kind {
            "room" => &self.room,
            "user" => &self.user,
            "node" => &self.node,
            _ => &self.other,
        }
        .fetch_add(1, Relaxed);
    }
}

/// The difference of two snapshots as JSON, with room messages per chat line sent.
pub fn delta(before: [u64; 4], after: [u64; 4], lines_sent: u64) -> Value {
    let d: Vec<u64> = after.iter().zip(before).map(|(a, b)| a.saturating_sub(b)).collect();
    let per_line = if lines_sent > 0 { d[0] as f64 / lines_sent as f64 } else { 0.0 };
    json!({"room_msgs": d[0], "user_msgs": d[1], "node_msgs": d[2], "other_msgs": d[3],
           "room_msgs_per_line": (per_line * 1000.0).round() / 1000.0})
}

/// Subscribes to `dmc.>` at `url` (`nats://host:port`) and counts until the process ends.
pub async fn subscribe(url: &str) -> io::Result<Arc<BusCounts>> {
    let hostport = url.strip_prefix("nats://").unwrap_or(url);
    let stream = TcpStream::connect(hostport).await?;
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = String::new();
    rd.read_line(&mut line).await?; // INFO {...}
    if !line.starts_with("INFO") {
        return Err(io::Error::other(format!("not a NATS server: {line:?}")));
    }
    wr.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"dmbench\"}\r\n").await?;
    wr.write_all(b"SUB dmc.> 1\r\nPING\r\n").await?;
    // The PONG confirms the subscription is in place before the run starts.
    loop {
        line.clear();
        if rd.read_line(&mut line).await? == 0 {
            return Err(io::Error::other("NATS closed the connection"));
        }
        if line.starts_with("PONG") {
            break;
        }
        if line.starts_with("-ERR") {
            return Err(io::Error::other(line.trim().to_string()));
        }
    }
    let counts = Arc::new(BusCounts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        let _ = read_loop(rd, wr, &c).await;
    });
    Ok(counts)
}

async fn read_loop(
    mut rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    counts: &BusCounts,
) -> io::Result<()> {
    let mut line = String::new();
    let mut payload = Vec::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.first().copied() {
            // MSG subject sid [reply] bytes / HMSG subject sid [reply] hdr_bytes total_bytes
            Some("MSG" | "HMSG") if parts.len() >= 4 => {
                counts.count(parts[1]);
                let n: usize = parts[parts.len() - 1].parse().map_err(io::Error::other)?;
                payload.resize(n + 2, 0);
                rd.read_exact(&mut payload).await?;
            }
            Some("PING") => wr.write_all(b"PONG\r\n").await?,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A fake NATS server: greets, waits for the subscription, then sends a few messages.
    #[tokio::test]
    async fn counts_messages_by_kind() {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("nats://{}", l.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.expect("accept");
            let (rd, mut wr) = s.into_split();
            let mut rd = BufReader::new(rd);
            wr.write_all(b"INFO {\"server_id\":\"x\"}\r\n").await.expect("info");
            let mut line = String::new();
            while !line.starts_with("PING") {
                line.clear();
                rd.read_line(&mut line).await.expect("read");
            }
            wr.write_all(b"PONG\r\n").await.expect("pong");
            let msgs = "MSG dmc.h.room.r0 1 5\r\nhello\r\n\
                        HMSG dmc.h.room.r0 1 12 17\r\nNATS/1.0\r\n\r\nhello\r\n\
                        PING\r\n\
                        MSG dmc.h.node.n1 1 2\r\n{}\r\n\
                        MSG dmc.h.user.bob 1 0\r\n\r\n";
            wr.write_all(msgs.as_bytes()).await.expect("msgs");
            line.clear();
            rd.read_line(&mut line).await.expect("pong back");
            assert_eq!(line, "PONG\r\n");
        });
        let c = subscribe(&url).await.expect("subscribe");
        server.await.expect("server");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(c.snapshot(), [2, 1, 1, 0]);
        assert_eq!(delta([0; 4], c.snapshot(), 2)["room_msgs_per_line"], 1.0);
    }
}

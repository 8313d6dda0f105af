//! Flow control: senders into a room are slowed to what its members take (no
//! reader that keeps reading is dropped), a stalled reader is dropped without
//! stalling the room, and a throttled sender is not read from at all.

use dmconnect_e2e::{Client, TestServer};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;

/// Limits off as in benchmarks, and a small outbound queue so pushback starts early.
const FLOW_LIMITS: &str = "[limits]\nchat_lines_per_sec = 0\nmax_connections_per_ip = 0\n\
    registrations_per_ip_per_hour = 0\noutbound_queue_messages = 64\noutbound_queue_bytes = 65536\n\
    slow_reader_secs = 2";

/// The only other line readers may see: the stalled reader's leave notice.
const STALLED_LEFT: &str = "*** stalled has left the server.\n";

type Halves = (BufReader<OwnedReadHalf>, OwnedWriteHalf);

/// Registers, logs in and joins `room` (created by the first); every client has
/// read up to the last join notice afterwards.
async fn members(room: &str, clients: Vec<Client>, names: &[String]) -> Vec<Client> {
    let mut joined = Vec::new();
    for (i, (c, name)) in clients.into_iter().zip(names).enumerate() {
        let mut c = Client::login_new_on(c, name, "pw").await;
        if i == 0 {
            c.send(&format!("/create_server {room}")).await;
            c.expect(&format!("Server '{room}' created successfully.")).await;
        }
        c.join(room).await;
        joined.push(c);
    }
    let last = format!("*** {} has joined the server.", names[names.len() - 1]);
    // The last one read its own notice in `join`.
    let n = joined.len() - 1;
    for c in &mut joined[..n] {
        while c.recv().await != last {}
    }
    joined
}

async fn connect_all(addr: SocketAddr, n: usize) -> Vec<Client> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(Client::connect(addr).await);
    }
    v
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Reads `senders × count` chat lines `"{sender}: {k} {body}"` and checks each
/// sender's arrive whole and in order; `pause_every > 0` makes a slow (but progressing) reader.
async fn read_all(rd: &mut BufReader<OwnedReadHalf>, senders: &[String], count: usize, body: &str, pause_every: usize) {
    let mut next = vec![0usize; senders.len()];
    let mut line = String::new();
    let mut n = 0;
    while n < senders.len() * count {
        line.clear();
        let read = tokio::time::timeout(Duration::from_secs(10), rd.read_line(&mut line)).await;
        assert!(matches!(read, Ok(Ok(k)) if k > 0), "reader ended after {n} lines: {read:?}");
        if line == STALLED_LEFT {
            continue;
        }
        let (who, text) = line.trim_end().split_once(": ").unwrap_or_else(|| panic!("not a chat line: {line:?}"));
        let s = senders.iter().position(|x| x == who).unwrap_or_else(|| panic!("unexpected line {line:?}"));
        assert_eq!(text, format!("{} {body}", next[s]), "line from {who}");
        next[s] += 1;
        n += 1;
        if pause_every > 0 && n % pause_every == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Writes `count` chat lines `"{k} {body}"` flat out, 50 to a write.
async fn flood(wr: &mut OwnedWriteHalf, count: usize, body: &str) {
    let mut chunk = String::new();
    for k in 0..count {
        chunk.push_str(&format!("{k} {body}\r\n"));
        if k % 50 == 49 || k + 1 == count {
            wr.write_all(chunk.as_bytes()).await.expect("send");
            chunk.clear();
        }
    }
}

/// The connection is open and everything before was read: a keep-alive's answer is the next line.
async fn still_there((rd, wr): &mut Halves) {
    wr.write_all(b"/\r\n").await.expect("send");
    let mut line = String::new();
    rd.read_line(&mut line).await.expect("read");
    assert_eq!(line, "*Ping*\n");
}

/// Runs senders (each floods and reads the room) and readers (each reads the room,
/// slowly if `pause_every > 0`) to the end; returns everyone's halves.
async fn run_room(
    senders: Vec<Client>,
    readers: Vec<Client>,
    count: usize,
    body: &str,
    pause_every: usize,
) -> Vec<Halves> {
    let who: Vec<String> = senders.iter().map(|c| c.name.clone()).collect();
    let mut tasks = Vec::new();
    let all = senders.into_iter().map(|c| (c, true)).chain(readers.into_iter().map(|c| (c, false)));
    for (c, sends) in all {
        let (who, body) = (who.clone(), body.to_owned());
        tasks.push(tokio::spawn(async move {
            let (mut rd, mut wr) = c.into_parts();
            let pause = if sends { 0 } else { pause_every };
            let body2 = body.clone();
            let reading = tokio::spawn(async move {
                read_all(&mut rd, &who, count, &body2, pause).await;
                rd
            });
            if sends {
                flood(&mut wr, count, &body).await;
            }
            (reading.await.expect("reader"), wr)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("client task"));
    }
    out
}

#[tokio::test]
async fn senders_are_slowed_and_no_reader_is_dropped() {
    let srv = TestServer::builder().toml(FLOW_LIMITS).start().await;
    let (s, r) = (names("snd", 3), names("rdr", 5));
    let all: Vec<String> = s.iter().chain(&r).cloned().collect();
    let mut clients = members("busy", connect_all(srv.addr(), all.len()).await, &all).await;
    let readers = clients.split_off(s.len());
    // 3 × 400 lines into a 64-line queue, read by slow readers: without pushback
    // every reader would overflow many times over.
    let body = "x".repeat(40);
    let mut halves = run_room(clients, readers, 400, &body, 10).await;
    for h in &mut halves {
        still_there(h).await;
    }
    assert!(!srv.logs().contains("client is not reading"), "someone was dropped:\n{}", srv.logs());
}

#[tokio::test]
async fn a_stalled_reader_is_dropped_and_the_room_goes_on() {
    let srv = TestServer::builder().toml(FLOW_LIMITS).start().await;
    let (s, r) = (names("snd", 2), names("rdr", 3));
    let mut all: Vec<String> = s.iter().chain(&r).cloned().collect();
    all.push("stalled".into());
    let mut conns = connect_all(srv.addr(), all.len() - 1).await;
    // A tiny receive buffer, so the stalled reader's socket fills at once.
    let sock = TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    conns.push(Client::from_stream(sock.connect(srv.addr()).await.expect("connect")));
    let mut clients = members("stall", conns, &all).await;
    let mut stalled = clients.pop().expect("stalled");
    let readers = clients.split_off(s.len());
    let started = Instant::now();
    let body = "y".repeat(8000);
    let run = tokio::spawn(async move { run_room(clients, readers, 400, &body, 0).await }).await;
    let Ok(mut halves) = run else { panic!("{}", srv.logs()) };
    for h in &mut halves {
        still_there(h).await;
    }
    // The room went on: everyone else got every line well within the 10 s per line,
    // and the stalled reader is gone within the bound (2 s of no progress).
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert!(stalled.closed_within(4000).await, "the stalled reader was not disconnected:\n{}", srv.logs());
}

#[tokio::test]
async fn a_throttled_sender_is_not_read_ahead() {
    let srv = TestServer::builder()
        .toml("[limits]\nchat_lines_per_sec = 1\nchat_burst = 1\nmax_connections_per_ip = 0")
        .start()
        .await;
    let sock = TcpSocket::new_v4().expect("socket");
    sock.set_send_buffer_size(16 * 1024).expect("sndbuf");
    let c =
        Client::login_new_on(Client::from_stream(sock.connect(srv.addr()).await.expect("connect")), "fl", "pw").await;
    let (mut rd, wr) = c.into_parts();
    // 30 KB chat lines: a server that read 64 lines ahead of the flood budget would
    // take about 2 MB off this socket before pushing back.
    let line = format!("{}\r\n", "z".repeat(30_000));
    let mut accepted = 0usize;
    let mut idle_since = Instant::now();
    while idle_since.elapsed() < Duration::from_millis(700) {
        let off = accepted % line.len();
        match wr.try_write(&line.as_bytes()[off..]) {
            Ok(n) if n > 0 => {
                accepted += n;
                idle_since = Instant::now();
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(accepted > 2 * line.len(), "the burst was not even read: {accepted} bytes");
    assert!(accepted < 1024 * 1024, "the server read {accepted} bytes ahead of the flood budget");
    // Still served, at the budget's pace: the warning, then replies as lines come due.
    let mut first = String::new();
    rd.read_line(&mut first).await.expect("read");
    let mut got = vec![first.trim_end().to_owned()];
    for _ in 0..2 {
        let mut l = String::new();
        rd.read_line(&mut l).await.expect("read");
        got.push(l.trim_end().to_owned());
    }
    assert!(got.iter().any(|l| l == "You are sending messages too fast."), "{got:?}");
}

#[tokio::test]
async fn a_full_socket_gets_every_line_in_order_once_it_reads() {
    // Plain TCP is written by the senders directly; what a full socket does not take
    // is left to its session, which writes it as the client reads: nothing lost or reordered.
    let srv = TestServer::builder().toml(FLOW_LIMITS).start().await;
    let mut all = names("snd", 2);
    all.push("late".into());
    let mut conns = connect_all(srv.addr(), all.len() - 1).await;
    let sock = TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    conns.push(Client::from_stream(sock.connect(srv.addr()).await.expect("connect")));
    let mut clients = members("late", conns, &all).await;
    let late = clients.pop().expect("late");
    let who: Vec<String> = clients.iter().map(|c| c.name.clone()).collect();
    // 2 × 500 lines of 3 KB: far more than the late reader's socket holds, and far
    // more than its 64 KB queue, so the senders are held back meanwhile too.
    let (count, body) = (500, "w".repeat(3000));
    let late = {
        let (who, body) = (who.clone(), body.clone());
        tokio::spawn(async move {
            let (mut rd, wr) = late.into_parts();
            // Not reading for a while (under the 1 s a sender waits for it, and the 2 s slow-reader bound).
            tokio::time::sleep(Duration::from_millis(600)).await;
            read_all(&mut rd, &who, count, &body, 0).await;
            (rd, wr)
        })
    };
    let mut halves = run_room(clients, Vec::new(), count, &body, 0).await;
    halves.push(late.await.expect("late reader"));
    for h in &mut halves {
        still_there(h).await;
    }
    assert!(!srv.logs().contains("disconnecting it"), "someone was dropped:\n{}", srv.logs());
}

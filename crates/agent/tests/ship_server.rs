//! The shipper against a real `stratus server` (a child process built from
//! this workspace): end to end, outages with a server SIGKILL in the middle,
//! lost acknowledgements (500 after the server stored the batch), an agent
//! SIGKILLed with batches in its spool, and one SIGKILLed with datums only in
//! the batch it was still filling. Every datum must be stored exactly once.

mod ship_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use ship_support::*;
use stratus_agent::ship::Shipper;

/// SampleCount over every metric [`datum`] uses.
fn stored(server: &Server) -> f64 {
    (0..7).map(|m| server.sample_count(&format!("m{m}"))).sum()
}

#[test]
fn end_to_end_into_a_real_server() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), free_port());
    let spool = tempfile::tempdir().unwrap();
    let shipper = Shipper::start(config(&server.url(), spool.path())).unwrap();
    shipper.submit((0..700).map(datum).collect());
    let report = shipper.shutdown(Duration::from_secs(20));
    assert_eq!(report.stats.datums_sent, 700, "{report:?}");
    assert_eq!(server.sample_count("m3"), 100.0);
    assert_eq!(stored(&server), 700.0);
}

#[test]
fn server_outage_and_sigkill_lose_nothing_and_store_once() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(&format!("http://127.0.0.1:{port}"), spool.path());
    cfg.max_datums_per_batch = 25;
    let shipper = Shipper::start(cfg).unwrap();
    let mut next = 0u64;
    let mut submit = |n: u64| {
        shipper.submit((next..next + n).map(datum).collect());
        next += n;
    };

    // Server not up yet: everything spools.
    submit(60);
    wait_until("spooling", Duration::from_secs(5), || {
        shipper.stats().datums_spooled == 60
    });
    let server = Server::start(data.path(), port);
    submit(40);
    wait_until("the drain", Duration::from_secs(20), || {
        shipper.stats().datums_sent == 100
    });
    // kill -9 the server while datums keep coming, then bring it back.
    server.kill();
    for _ in 0..5 {
        submit(30);
        std::thread::sleep(Duration::from_millis(120));
    }
    let server = Server::start(data.path(), port);
    submit(10);
    wait_until("the second drain", Duration::from_secs(30), || {
        let s = shipper.stats();
        s.datums_sent == 260 && s.datums_spooled == 0
    });
    assert_eq!(shipper.stats().datums_dropped, 0);
    assert_eq!(stored(&server), 260.0);
}

/// Forwards one request to the real server over a fresh connection and
/// returns its status and body.
fn forward(port: u16, req: &Seen) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if k != "connection" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("connection: close\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&req.body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn lost_acknowledgements_do_not_duplicate() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), free_port());
    let server_port = server.port;
    // The server stores every request, but the first two answers are lost
    // on the way back (replaced by 500s): the agent must retry, and the
    // server must recognise the batch ids.
    let proxy = FakeEndpoint::start("127.0.0.1:0", move |req, n| {
        let (status, body) = forward(server_port, req);
        assert_eq!(status, 200, "{body}");
        if n < 2 {
            error(500, "InternalServiceError", "lost on the way back")
        } else {
            (status, body)
        }
    });
    let spool = tempfile::tempdir().unwrap();
    let shipper = Shipper::start(config(&proxy.url(), spool.path())).unwrap();
    shipper.submit((0..70).map(datum).collect());
    wait_until("acceptance", Duration::from_secs(10), || {
        shipper.stats().datums_sent == 70
    });
    let seen = proxy.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.batch_id() == seen[0].batch_id()));
    assert_eq!(
        stored(&server),
        70.0,
        "stored once despite three deliveries"
    );
}

const CHILD_SPOOL: &str = "STRATUS_SHIP_TEST_CHILD_SPOOL";
const CHILD_ENDPOINT: &str = "STRATUS_SHIP_TEST_CHILD_ENDPOINT";
const SPOOLED_MARKER: &str = "CHILD-SPOOLED-ALL";
const JOURNALED_MARKER: &str = "CHILD-JOURNALED-ALL";

/// The agent half of `agent_sigkill_keeps_the_spool`: spools 150 datums
/// against a dead endpoint, says so, then waits to be killed.
fn child_spools(spool: &str, endpoint: &str) {
    let mut cfg = config(endpoint, std::path::Path::new(spool));
    cfg.max_datums_per_batch = 20;
    let shipper = Shipper::start(cfg).unwrap();
    for i in 0..5 {
        shipper.submit((i * 30..i * 30 + 30).map(datum).collect());
    }
    wait_until("child spooling", Duration::from_secs(20), || {
        shipper.stats().datums_spooled == 150
    });
    // libtest may print "test ... " on the same line first.
    println!("\n{SPOOLED_MARKER}");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

/// The agent half of `agent_sigkill_keeps_the_open_batch`: 150 datums go
/// into a batch that a one-hour flush interval never seals, so they exist
/// only in memory and in the journal when the child is killed.
fn child_fills_open_batch(spool: &str, endpoint: &str) {
    let mut cfg = config(endpoint, std::path::Path::new(spool));
    cfg.force_flush_interval = Duration::from_secs(3600);
    let shipper = Shipper::start(cfg).unwrap();
    for i in 0..5 {
        shipper.submit((i * 30..i * 30 + 30).map(datum).collect());
    }
    let journal = std::path::Path::new(spool).join(stratus_agent::ship::JOURNAL_DIR);
    // 150 records of > 40 bytes each, in one batch file.
    wait_until("child journaling", Duration::from_secs(20), || {
        std::fs::read_dir(&journal)
            .map(|d| {
                d.flatten()
                    .map(|e| e.metadata().map_or(0, |m| m.len()))
                    .sum::<u64>()
            })
            .unwrap_or(0)
            > 150 * 40
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(shipper.stats().datums_sent, 0);
    assert_eq!(shipper.stats().datums_spooled, 0);
    println!("\n{JOURNALED_MARKER}");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

/// Runs this test binary's `test` as a child in child mode, waits for
/// `marker` on its stdout, then SIGKILLs it. Returns whether the marker came.
fn run_child_until_killed(
    test: &str,
    spool: &std::path::Path,
    endpoint: &str,
    marker: &str,
) -> bool {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_SPOOL, spool)
        .env(CHILD_ENDPOINT, endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let seen = out
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains(marker));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    seen
}

#[test]
fn agent_sigkill_keeps_the_open_batch() {
    if let (Ok(spool), Ok(endpoint)) = (std::env::var(CHILD_SPOOL), std::env::var(CHILD_ENDPOINT)) {
        child_fills_open_batch(&spool, &endpoint);
        return;
    }
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let spool = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    // The server is up the whole time: only the kill can lose anything.
    let server = Server::start(data.path(), port);
    assert!(
        run_child_until_killed(
            "agent_sigkill_keeps_the_open_batch",
            spool.path(),
            &endpoint,
            JOURNALED_MARKER
        ),
        "the child never journaled its datums"
    );
    assert_eq!(stored(&server), 0.0, "nothing was sent before the kill");
    let shipper = Shipper::start(config(&endpoint, spool.path())).unwrap();
    wait_until("the recovered batch", Duration::from_secs(20), || {
        shipper.stats().datums_sent == 150
    });
    let report = shipper.shutdown(Duration::from_secs(10));
    assert_eq!(report.stats.datums_sent, 150, "{report:?}");
    assert_eq!(stored(&server), 150.0);
    assert_eq!(
        server.sample_count("m3"),
        21.0,
        "i % 7 == 3 for 21 of 0..150"
    );
    let left = std::fs::read_dir(spool.path().join(stratus_agent::ship::JOURNAL_DIR))
        .unwrap()
        .count();
    assert_eq!(
        left, 0,
        "the journal is empty once everything is acknowledged"
    );
}

#[test]
fn agent_sigkill_keeps_the_spool() {
    if let (Ok(spool), Ok(endpoint)) = (std::env::var(CHILD_SPOOL), std::env::var(CHILD_ENDPOINT)) {
        child_spools(&spool, &endpoint);
        return;
    }
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let spool = tempfile::tempdir().unwrap();
    let spooled = run_child_until_killed(
        "agent_sigkill_keeps_the_spool",
        spool.path(),
        &endpoint,
        SPOOLED_MARKER,
    );
    assert!(spooled, "the child never spooled its datums");

    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), port);
    let shipper = Shipper::start(config(&endpoint, spool.path())).unwrap();
    wait_until("the drain", Duration::from_secs(20), || {
        shipper.stats().datums_sent == 150
    });
    assert_eq!(shipper.stats().datums_spooled, 0);
    assert_eq!(stored(&server), 150.0);
}

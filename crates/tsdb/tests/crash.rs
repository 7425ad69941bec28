//! kill -9 safety: a child process (this test binary re-executed with an
//! environment variable) writes batches in a loop and prints the number of
//! every acknowledged batch; the parent SIGKILLs it mid-stream, reopens the
//! database and requires every acknowledged batch to be present, whole.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stratus_tsdb::{Db, Options, RangeQuery, Retention, Sample, SeriesKey, WriteBatch};

/// These tests write timestamps near the epoch: keep every sample as
/// written and list every series, whatever its age (retention and
/// inactivity have their own tests).
fn kept_forever() -> Options {
    Options {
        retention: Retention::forever(),
        hide_inactive_after: None,
        ..Options::default()
    }
}

const CHILD_ENV: &str = "STRATUS_TSDB_CRASH_CHILD_DIR";
const FIRST_BATCH_ENV: &str = "STRATUS_TSDB_CRASH_FIRST_BATCH";
const SAMPLES_PER_BATCH: i64 = 50;

fn key(b: i64) -> SeriesKey {
    // A few series, some created late, so WAL series definitions matter.
    SeriesKey::new("Crash", "m", [("shard".to_string(), (b % 7).to_string())])
}

fn batch(b: i64) -> WriteBatch {
    let mut w = WriteBatch::new();
    for i in 0..SAMPLES_PER_BATCH {
        w.push(key(b), Sample::single(b * 1000 + i, 0, b as f64));
    }
    w
}

/// The writer half. Runs only when re-executed by `acknowledged_writes_survive_sigkill`.
fn child_main(dir: &str, first: i64) {
    let opts = Options {
        // Small head so seals (block writes, WAL deletion) race with the kill.
        max_head_samples: 2_000,
        ..kept_forever()
    };
    let db = Db::open(std::path::Path::new(dir), opts).expect("child open");
    let mut out = std::io::stdout().lock();
    for b in first.. {
        db.write(&batch(b)).expect("child write");
        writeln!(out, "{b}")
            .and_then(|()| out.flush())
            .expect("child stdout");
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let first = std::env::var(FIRST_BATCH_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        child_main(&dir, first);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3i64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "acknowledged_writes_survive_sigkill",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env(FIRST_BATCH_ENV, (round * 100_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut acked: Vec<i64> = Vec::new();
        let target = 150 + round as usize * 97;
        let deadline = Instant::now() + Duration::from_secs(60);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(b) = line.trim().parse::<i64>() {
                acked.push(b);
            }
            if acked.len() >= target || Instant::now() > deadline {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        assert!(
            acked.len() >= target,
            "child acknowledged only {} batches",
            acked.len()
        );

        let db = Db::open(dir.path(), kept_forever()).unwrap();
        for &b in &acked {
            let k = key(b);
            let aggs = db
                .query(&RangeQuery {
                    series: &k,
                    start_ms: b * 1000,
                    end_ms: b * 1000 + 1000,
                    period_ms: 1000,
                    unit: None,
                })
                .unwrap();
            assert_eq!(
                aggs.len(),
                1,
                "round {round}: acknowledged batch {b} missing"
            );
            // Whole, and not duplicated by a replay of sealed WAL segments.
            assert_eq!(aggs[0].count, SAMPLES_PER_BATCH as f64, "batch {b}");
            assert_eq!(aggs[0].sum, (SAMPLES_PER_BATCH * b) as f64, "batch {b}");
        }
        drop(db);
    }
}

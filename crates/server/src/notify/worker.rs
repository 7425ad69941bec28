//! The background task that drains the outbox: it scans the pending index,
//! attempts due deliveries (a few at a time, each key at most once at a
//! time), records each outcome, sleeps until the next due time or until
//! [`super::Notifier::enqueue`] wakes it, and prunes old finished records
//! hourly. Stopped by [`WorkerHandle::shutdown`], which lets attempts in
//! flight finish (bounded) so their outcomes are recorded.
//!
//! On a PostgreSQL store each attempt first claims its record (see
//! [`outbox`]'s cluster-mode notes); a record another node's worker holds
//! is skipped for [`CLAIMED_RETRY`] and looked at again after.

use super::deliver::Transports;
use super::{Notifier, NotifyError, Shared, now_ms, outbox};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Deliveries attempted concurrently.
const MAX_IN_FLIGHT: usize = 16;
/// The longest the worker sleeps without looking at the outbox.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// In cluster mode deliveries are enqueued on every node but only this
/// node's enqueues wake this worker: look at the shared outbox this often.
const CLUSTER_POLL: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long shutdown waits for attempts in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an attempt's claim on its record lasts (PostgreSQL store).
const CLAIM_TTL: Duration = Duration::from_secs(60);
/// Slack beyond the transport's timeout that a claim must still have
/// before sending, for recording the outcome afterwards.
const CLAIM_SLACK: Duration = Duration::from_secs(5);
/// The SMTP transport's whole-attempt timeout (`smtp::SMTP_TIMEOUT`).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// When a record is claimed by another worker, look at it again after this.
const CLAIMED_RETRY: Duration = Duration::from_secs(1);

/// How an attempt ended, for the loop's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempted {
    /// Sent (or found finished, or failed to read): nothing to remember.
    Done,
    /// Not attempted: another worker holds the record's claim (or the
    /// claim could not be taken or kept); back off briefly.
    NotClaimed,
}

#[derive(Debug)]
pub struct WorkerHandle {
    stop: tokio::sync::watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops the worker; waits for attempts in flight (up to 10 s).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.join.await {
            tracing::error!("notification worker failed: {e}");
        }
    }
}

/// Starts the worker on `notifier`'s outbox.
pub fn start(notifier: &Notifier, transports: Transports) -> Result<WorkerHandle, NotifyError> {
    let shared = notifier.shared()?.clone();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tracing::info!(
        emails = %transports.email_destination(),
        sms = %transports.sms_destination(),
        "notification worker started"
    );
    let join = tokio::spawn(run(shared, Arc::new(transports), stop_rx));
    Ok(WorkerHandle { stop, join })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::meta::MetaError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

async fn run(
    shared: Arc<Shared>,
    transports: Arc<Transports>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tasks: JoinSet<Attempted> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, String> = HashMap::new();
    // Records another worker holds: not before this instant.
    let mut claimed_elsewhere: HashMap<String, tokio::time::Instant> = HashMap::new();
    let mut next_prune = tokio::time::Instant::now();
    loop {
        if *stop.borrow() {
            break;
        }
        if tokio::time::Instant::now() >= next_prune {
            next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
            let meta = shared.meta.clone();
            match blocking(move || outbox::prune(&meta, now_ms(), outbox::KEEP_FINISHED_MS)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(records = n, "pruned finished notification records"),
                Err(e) => tracing::warn!("pruning the outbox: {e}"),
            }
        }
        let meta = shared.meta.clone();
        let pending = match blocking(move || outbox::pending(&meta)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("reading the outbox: {e}");
                Vec::new()
            }
        };
        // Ordered deliveries (SNS FIFO) wait while an earlier one of their
        // lane is pending, so a retry never lets a later message pass it.
        let meta = shared.meta.clone();
        let waiting = match blocking(move || outbox::waiting_for_earlier(&meta)).await {
            Ok(w) => w,
            Err(e) => {
                tracing::error!("reading the outbox's ordered lanes: {e}");
                // Unknown order: attempt nothing this round.
                pending.iter().map(|(k, _)| k.clone()).collect()
            }
        };
        let now = now_ms();
        let max_sleep = if shared.meta.pg().is_some() {
            CLUSTER_POLL
        } else {
            MAX_SLEEP
        };
        let mut sleep_ms = max_sleep.as_millis() as i64;
        let instant = tokio::time::Instant::now();
        claimed_elsewhere.retain(|_, until| *until > instant);
        for (key, due) in pending {
            if waiting.contains(&key) || in_flight.values().any(|k| *k == key) {
                // A finishing attempt (or an enqueue) wakes the loop.
                continue;
            }
            if let Some(until) = claimed_elsewhere.get(&key) {
                sleep_ms = sleep_ms.min((*until - instant).as_millis() as i64);
                continue;
            }
            if due > now {
                sleep_ms = sleep_ms.min(due - now);
                continue;
            }
            if in_flight.len() >= MAX_IN_FLIGHT {
                // A finishing attempt wakes the loop; no timed wait needed.
                break;
            }
            let handle = tasks.spawn(attempt(shared.clone(), transports.clone(), key.clone()));
            in_flight.insert(handle.id(), key);
        }
        let sleep = tokio::time::sleep(Duration::from_millis(sleep_ms.max(0) as u64));
        tokio::select! {
            _ = sleep => {}
            _ = shared.wake.notified() => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                forget(&mut in_flight, &mut claimed_elsewhere, done);
                while let Some(done) = tasks.try_join_next_with_id() {
                    forget(&mut in_flight, &mut claimed_elsewhere, done);
                }
            }
            _ = stop.changed() => break,
        }
    }
    if !tasks.is_empty() {
        tracing::info!(
            in_flight = tasks.len(),
            "waiting for notification attempts in flight"
        );
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            // Their records stay pending: they are attempted again after the restart.
            tracing::warn!(
                in_flight = tasks.len(),
                "abandoning notification attempts still in flight"
            );
            tasks.abort_all();
        }
    }
    tracing::info!("notification worker stopped");
}

fn forget(
    in_flight: &mut HashMap<tokio::task::Id, String>,
    claimed_elsewhere: &mut HashMap<String, tokio::time::Instant>,
    done: Result<(tokio::task::Id, Attempted), tokio::task::JoinError>,
) {
    let (id, attempted) = match done {
        Ok(done) => done,
        Err(e) => {
            tracing::error!("notification attempt failed: {e}");
            (e.id(), Attempted::Done)
        }
    };
    if let Some(key) = in_flight.remove(&id)
        && attempted == Attempted::NotClaimed
    {
        claimed_elsewhere.insert(key, tokio::time::Instant::now() + CLAIMED_RETRY);
    }
}

/// How long a claim must still run before sending `target`: the
/// transport's timeout plus slack for recording the outcome.
fn claim_margin(target: &super::Target) -> Duration {
    let timeout = match target {
        super::Target::Http { .. } | super::Target::Sms(_) => super::http::HTTP_TIMEOUT,
        super::Target::Email { .. } => SMTP_TIMEOUT,
    };
    timeout + CLAIM_SLACK
}

/// Attempts the delivery `key` once and records the outcome. On a
/// PostgreSQL store it holds the record's claim throughout (released at
/// the end whatever happened; an unreleased claim just expires).
async fn attempt(shared: Arc<Shared>, transports: Arc<Transports>, key: String) -> Attempted {
    let clustered = shared.meta.pg().is_some();
    let owner = shared.node_id();
    if clustered {
        let (meta, k, o) = (shared.meta.clone(), key.clone(), owner.clone());
        match blocking(move || outbox::claim(&meta, &k, &o, CLAIM_TTL)).await {
            Ok(true) => {}
            Ok(false) => return Attempted::NotClaimed,
            Err(e) => {
                tracing::warn!(key, "claiming a delivery: {e}");
                return Attempted::NotClaimed;
            }
        }
    }
    let attempted = attempt_claimed(&shared, &transports, &key, &owner).await;
    if clustered {
        let (meta, k) = (shared.meta.clone(), key.clone());
        if let Err(e) = blocking(move || outbox::release(&meta, &k, &owner)).await {
            tracing::warn!(
                key,
                "releasing a delivery's claim (it expires by itself): {e}"
            );
        }
    }
    attempted
}

async fn attempt_claimed(
    shared: &Arc<Shared>,
    transports: &Transports,
    key: &str,
    owner: &str,
) -> Attempted {
    let meta = shared.meta.clone();
    let k = key.to_string();
    // Read only now that the claim is held: a record another worker just
    // finished shows as finished here.
    let rec = match blocking(move || outbox::get(&meta, &k)).await {
        Ok(Some(rec)) if rec.status == outbox::Status::Pending => rec,
        Ok(_) => return Attempted::Done,
        Err(e) => {
            tracing::error!(key, "reading a delivery: {e}");
            return Attempted::Done;
        }
    };
    // Right before sending: a claim that could run out mid-send (a slow
    // store, a paused process) lets another worker send too, so don't.
    if shared.meta.pg().is_some() {
        let margin = claim_margin(&rec.delivery.target);
        let (meta, k, o) = (shared.meta.clone(), key.to_string(), owner.to_string());
        match blocking(move || outbox::claim_held(&meta, &k, &o, margin)).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    key,
                    "a delivery's claim is about to expire; not sending now"
                );
                return Attempted::NotClaimed;
            }
            Err(e) => {
                tracing::warn!(key, "checking a delivery's claim: {e}");
                return Attempted::NotClaimed;
            }
        }
    }
    let result = transports.attempt(&rec).await;
    if result.is_ok() && fault_exit_after_send() {
        // A stand-in for a crash at the worst moment: the transport accepted
        // the message, the record is not marked, the claim is left to expire.
        tracing::warn!(
            message_id = %rec.delivery.message_id,
            "fault injection: exiting after a send, before marking it"
        );
        std::process::abort();
    }
    let key = key.to_string();
    let meta = shared.meta.clone();
    let recorded = blocking(move || {
        let outcome = result
            .as_ref()
            .map(|_| ())
            .map_err(|f| (f.message.as_str(), f.permanent));
        outbox::record_outcome(&meta, &key, now_ms(), outcome).map(|r| (r, result))
    })
    .await;
    let d = &rec.delivery;
    match recorded {
        Err(e) => {
            tracing::error!(message_id = %d.message_id, "recording a delivery outcome: {e}")
        }
        Ok((None, _)) => {}
        Ok((Some(r), Ok(()))) => tracing::info!(
            message_id = %d.message_id, attempts = r.attempts, "notification delivered"
        ),
        Ok((Some(r), Err(f))) => match r.status {
            outbox::Status::GaveUp => tracing::error!(
                message_id = %d.message_id, attempts = r.attempts, error = %f.message,
                "notification delivery failed; giving up"
            ),
            _ => tracing::warn!(
                message_id = %d.message_id, attempts = r.attempts, error = %f.message,
                retry_in_ms = r.next_attempt_at_ms.map(|t| t - now_ms()),
                "notification delivery failed; will retry"
            ),
        },
    }
    Attempted::Done
}

/// `STRATUS_FAULT_EXIT_AFTER_SEND=1`: fault injection for the notifier-crash
/// test (tests/cluster), never set in production. The process exits
/// abruptly (no cleanup, no claim released) right after a transport
/// accepted a delivery and before its outbox record is marked delivered.
fn fault_exit_after_send() -> bool {
    std::env::var("STRATUS_FAULT_EXIT_AFTER_SEND").is_ok_and(|v| v == "1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::MetaStore;
    use crate::notify::egress::{EgressConfig, EgressPolicy};
    use crate::notify::{DeliveryConfig, NewDelivery, RetryPolicy, Target};
    use std::collections::BTreeMap;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Mutex;
    use stratus_cluster_pg::Pg;
    use stratus_cluster_pg::testing::TempPostgres;

    /// How long the webhook takes to answer: long enough that two workers
    /// without claims would both be mid-send on the same record.
    const SLOW: Duration = Duration::from_millis(300);

    /// A webhook on 127.0.0.1 that answers 200 after [`SLOW`] and counts
    /// the bodies it received.
    fn slow_webhook() -> (u16, Arc<Mutex<BTreeMap<String, u32>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let counts = seen.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let counts = counts.clone();
                std::thread::spawn(move || serve(conn, &counts));
            }
        });
        (port, seen)
    }

    fn serve(mut c: TcpStream, counts: &Mutex<BTreeMap<String, u32>>) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let body = loop {
            let Ok(n) = c.read(&mut chunk) else { return };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            let Some(end) = text.find("\r\n\r\n") else {
                continue;
            };
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
            }
        };
        std::thread::sleep(SLOW);
        *counts.lock().unwrap().entry(body).or_insert(0) += 1;
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }

    fn delivery(id: &str, port: u16) -> NewDelivery {
        NewDelivery {
            message_id: id.into(),
            subscription_arn: Some("arn:aws:sns:us-east-1:123456789012:t:s1".into()),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
            target: Target::Http {
                url: format!("http://127.0.0.1:{port}/hook"),
                headers: vec![("Content-Type".into(), "text/plain".into())],
                body: id.into(),
            },
            policy: RetryPolicy::HTTP_DEFAULT,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_workers_over_one_postgres_outbox_deliver_each_record_once() {
        let server = TempPostgres::start();
        let (port, received) = slow_webhook();
        let url = server.url();
        // Two nodes: each its own connection pool, store and notifier.
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut notifiers = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let url = url.clone();
            let pg =
                tokio::task::spawn_blocking(move || Pg::connect(&url, Duration::from_secs(30)))
                    .await
                    .unwrap()
                    .unwrap();
            let n = Notifier::new(Arc::new(MetaStore::postgres(pg)), dir.path());
            n.set_node_id(format!("node-{i}"));
            notifiers.push(n);
        }
        assert_eq!(notifiers[1].node_id().as_deref(), Some("node-1"));
        const RECORDS: usize = 24;
        let ids: Vec<String> = (0..RECORDS).map(|i| format!("msg-{i:02}")).collect();
        let (n0, batch) = (notifiers[0].clone(), ids.clone());
        tokio::task::spawn_blocking(move || {
            for id in batch {
                assert!(n0.enqueue_new(delivery(&id, port)).unwrap());
            }
        })
        .await
        .unwrap();

        let config = DeliveryConfig::from_options(None, None).unwrap();
        let egress = Arc::new(EgressPolicy::new(
            EgressConfig {
                webhook_allow: vec![format!("127.0.0.1:{port}").parse().unwrap()],
                deny_private: false,
            },
            Vec::new(),
        ));
        let workers: Vec<_> = notifiers
            .iter()
            .map(|n| n.start_worker(&config, egress.clone()).unwrap())
            .collect();

        // Until every record is marked delivered (bounded, not timed).
        let n0 = notifiers[0].clone();
        let all_ids = ids.clone();
        let delivered = tokio::task::spawn_blocking(move || {
            for _ in 0..600 {
                let done = all_ids.iter().all(|id| {
                    n0.get(id, Some("arn:aws:sns:us-east-1:123456789012:t:s1"))
                        .unwrap()
                        .is_some_and(|r| r.status == outbox::Status::Delivered && r.attempts == 1)
                });
                if done {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        })
        .await
        .unwrap();
        // Time for any duplicate send to arrive before counting.
        tokio::time::sleep(SLOW * 3).await;
        for w in workers {
            w.shutdown().await;
        }
        let received = received.lock().unwrap().clone();
        assert!(delivered, "not all delivered: {received:?}");
        let expected: BTreeMap<String, u32> = ids.into_iter().map(|id| (id, 1)).collect();
        assert_eq!(received, expected, "each record exactly once");
    }
}

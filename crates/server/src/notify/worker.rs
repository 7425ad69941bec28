//! The background task that drains the outbox: it scans the pending index,
//! attempts due deliveries (a few at a time, each key at most once at a
//! time), records each outcome, sleeps until the next due time or until
//! [`super::Notifier::enqueue`] wakes it, and prunes old finished records
//! hourly. Stopped by [`WorkerHandle::shutdown`], which lets attempts in
//! flight finish (bounded) so their outcomes are recorded.

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
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long shutdown waits for attempts in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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
    tracing::info!(emails = %transports.email_destination(), "notification worker started");
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
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, String> = HashMap::new();
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
        let now = now_ms();
        let mut sleep_ms = MAX_SLEEP.as_millis() as i64;
        for (key, due) in pending {
            if in_flight.values().any(|k| *k == key) {
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
                forget(&mut in_flight, done);
                while let Some(done) = tasks.try_join_next_with_id() {
                    forget(&mut in_flight, done);
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
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    let id = match done {
        Ok((id, ())) => id,
        Err(e) => {
            tracing::error!("notification attempt failed: {e}");
            e.id()
        }
    };
    in_flight.remove(&id);
}

/// Attempts the delivery `key` once and records the outcome.
async fn attempt(shared: Arc<Shared>, transports: Arc<Transports>, key: String) {
    let meta = shared.meta.clone();
    let k = key.clone();
    let rec = match blocking(move || outbox::get(&meta, &k)).await {
        Ok(Some(rec)) if rec.status == outbox::Status::Pending => rec,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(key, "reading a delivery: {e}");
            return;
        }
    };
    let result = transports.attempt(&rec).await;
    let meta = shared.meta.clone();
    let k = key.clone();
    let outcome = result
        .as_ref()
        .map(|_| ())
        .map_err(|f| (f.message.clone(), f.permanent));
    let recorded = blocking(move || {
        let o = match &outcome {
            Ok(()) => Ok(()),
            Err((m, p)) => Err((m.as_str(), *p)),
        };
        outbox::record_outcome(&meta, &k, now_ms(), o)
    })
    .await;
    let d = &rec.delivery;
    match (recorded, result) {
        (Err(e), _) => {
            tracing::error!(message_id = %d.message_id, "recording a delivery outcome: {e}")
        }
        (Ok(None), _) => {}
        (Ok(Some(r)), Ok(())) => tracing::info!(
            message_id = %d.message_id, attempts = r.attempts, "notification delivered"
        ),
        (Ok(Some(r)), Err(f)) => match r.status {
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
}

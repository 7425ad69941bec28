//! The shipper thread: turns submitted datums into batches and gets every
//! batch to the endpoint exactly once, in order.
//!
//! A sealed batch goes to a small in-memory outbox while the endpoint is
//! healthy, and to the spool while it is failing, while the spool still
//! holds older batches, or when the outbox is full (the outbox moves to the
//! spool first, so order holds: whenever the spool is non-empty the outbox
//! is empty, and the spool is always sent first). A batch leaves its queue
//! only after a 2xx or a permanent refusal. A retryable failure moves the
//! outbox to the spool and schedules the next attempt with [`Backoff`]; so
//! does a refusal for authentication (401/403: wrong, deleted or denied key,
//! clock skew), until the refused batch is older than
//! `auth_failure_max_age` — then it is dropped, and counted;
//! collection never waits for the network, except for the one request in
//! flight (bounded by the request timeout).
//!
//! Every datum is written to the [`Journal`] under its batch's id before the
//! batch can be sealed; the batch's journal file goes once the batch is
//! acknowledged, refused, dropped or in the (fsync'd) spool. So whatever
//! this thread holds in memory is also on disk — unless that disk is full or
//! read-only: then batches wait in memory (bounded, see `queue`) and the
//! journal and spool are retried until they work again.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::batch::{BatchId, Batcher, SealedBatch};
use super::encode;
use super::journal::{self, Journal};
use super::queue::BatchQueue;
use super::spool::Dropped;
use super::transport::{Outcome, Transport};
use super::{Datum, ShipStats, ShipperConfig, ShutdownReport};

/// Batches kept in memory while the endpoint keeps up.
const OUTBOX_MAX: usize = 4;
/// While failing, log every Nth failure (and at least once a minute).
const LOG_EVERY_NTH_FAILURE: u64 = 10;
const LOG_AT_LEAST_EVERY: Duration = Duration::from_secs(60);

pub enum Msg {
    Datums(Vec<Datum>),
    Shutdown(Instant),
}

/// Why the endpoint is not taking batches; a change of kind starts a new
/// failure burst (and its first, loud, log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    Unreachable,
    Auth { clock_skew: bool },
}

/// Batch ids before this (2020-01-01) carry no opening time (the first
/// release's random ids).
const PLAUSIBLE_OPENING_MS: u64 = 1_577_836_800_000;

struct Failing {
    kind: FailureKind,
    since: Instant,
    attempts: u64,
    last_logged: Instant,
    next_attempt: Instant,
}

pub struct Worker {
    cfg: ShipperConfig,
    batcher: Batcher,
    outbox: VecDeque<SealedBatch>,
    /// The spool (or, while it cannot be written, memory behind it).
    spool: BatchQueue,
    journal: Journal,
    /// The journal failed and that was logged; log again when it recovers.
    journal_failing: bool,
    transport: Transport,
    backoff: Backoff,
    failing: Option<Failing>,
    next_flush: Instant,
    /// A shutdown request read while draining, handled once the drain stops.
    pending_shutdown: Option<Instant>,
    /// Batches dropped as too old while refused for authentication, not yet
    /// logged (one line per run of drops).
    auth_expired: Dropped,
    stats: Arc<Mutex<ShipStats>>,
}

fn lock(stats: &Mutex<ShipStats>) -> std::sync::MutexGuard<'_, ShipStats> {
    stats.lock().unwrap_or_else(|e| e.into_inner())
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

impl Worker {
    pub fn new(
        cfg: ShipperConfig,
        spool: BatchQueue,
        journal: Journal,
        transport: Transport,
        stats: Arc<Mutex<ShipStats>>,
    ) -> Worker {
        let backoff = Backoff::new(cfg.retry_base, cfg.retry_cap);
        Worker {
            batcher: Batcher::new(&cfg.namespace, cfg.max_datums_per_batch),
            outbox: VecDeque::new(),
            spool,
            journal,
            journal_failing: false,
            transport,
            backoff,
            failing: None,
            next_flush: Instant::now() + cfg.force_flush_interval,
            pending_shutdown: None,
            auth_expired: Dropped::default(),
            stats,
            cfg,
        }
    }

    pub fn run(mut self, rx: Receiver<Msg>) -> ShutdownReport {
        self.publish_spool();
        loop {
            self.send_due(&rx);
            if let Some(deadline) = self.pending_shutdown {
                return self.shutdown(deadline);
            }
            let now = Instant::now();
            if self.spool.retry_at().is_some_and(|at| now >= at) {
                let dropped = self.spool.retry_spool(now);
                self.count_overflow(dropped);
                self.publish_spool();
            }
            let mut wake = self.next_flush;
            if let Some(at) = self.spool.retry_at() {
                wake = wake.min(at);
            }
            if let Some(f) = self.failing.as_ref().filter(|_| self.has_pending()) {
                wake = wake.min(f.next_attempt);
            }
            match rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(Msg::Datums(d)) => self.add(d),
                Ok(Msg::Shutdown(deadline)) => return self.shutdown(deadline),
                Err(RecvTimeoutError::Timeout) => {}
                // The Shipper was dropped without shutdown: keep what we hold.
                Err(RecvTimeoutError::Disconnected) => return self.shutdown(Instant::now()),
            }
            if Instant::now() >= self.next_flush {
                self.next_flush = Instant::now() + self.cfg.force_flush_interval;
                if let Some(b) = self.batcher.seal() {
                    self.route(b);
                }
            }
        }
    }

    fn has_pending(&self) -> bool {
        !self.spool.is_empty() || !self.outbox.is_empty()
    }

    fn add(&mut self, datums: Vec<Datum>) {
        // Journal records per batch id (a message spans at most a few batches).
        let mut records: Vec<(BatchId, Vec<u8>)> = Vec::new();
        let mut sealed = Vec::new();
        for d in datums {
            match encode::prepare(d) {
                Ok(parts) => {
                    for p in parts {
                        let mut rec = Vec::new();
                        journal::record(&p, &mut rec);
                        let added = self.batcher.add(p);
                        match records.iter_mut().find(|(id, _)| *id == added.into) {
                            Some((_, r)) => r.extend_from_slice(&rec),
                            None => records.push((added.into, rec)),
                        }
                        sealed.extend(added.sealed);
                    }
                }
                Err(e) => {
                    crate::warn!("dropping a datum the endpoint would refuse: {e}");
                    let mut s = lock(&self.stats);
                    s.datums_dropped += 1;
                    s.datums_invalid += 1;
                }
            }
        }
        // Written down before any of these batches can be spooled or sent.
        for (id, rec) in records {
            self.journal_append(id, &rec);
        }
        for b in sealed {
            self.route(b);
        }
    }

    fn journal_append(&mut self, id: BatchId, records: &[u8]) {
        match self.journal.append(id, self.batcher.namespace(), records) {
            Ok(()) if self.journal_failing => {
                self.journal_failing = false;
                crate::info!("journal writable again");
            }
            Ok(()) => {}
            Err(e) if !self.journal_failing => {
                self.journal_failing = true;
                crate::error!(
                    "cannot journal collected datums ({e}); they are kept in memory, but a crash now would lose them"
                );
            }
            Err(_) => {}
        }
    }

    fn route(&mut self, b: SealedBatch) {
        let to_spool =
            self.failing.is_some() || !self.spool.is_empty() || self.outbox.len() >= OUTBOX_MAX;
        if !to_spool {
            self.outbox.push_back(b);
            return;
        }
        while let Some(old) = self.outbox.pop_front() {
            self.spool_batch(old);
        }
        self.spool_batch(b);
    }

    fn spool_batch(&mut self, b: SealedBatch) {
        // Either way the journal is done with it: spooled (fsync'd), or in
        // memory because the spool's disk cannot take it (logged there).
        let id = b.id;
        let dropped = self.spool.push(b, false);
        self.journal.remove(id);
        self.count_overflow(dropped);
        self.publish_spool();
    }

    fn count_overflow(&mut self, dropped: Dropped) {
        if dropped.batches == 0 {
            return;
        }
        let bound = if self.spool.is_durable() {
            self.cfg.spool_max_bytes
        } else {
            self.cfg.spool_max_bytes.min(super::queue::MEMORY_MAX_BYTES)
        };
        crate::warn!(
            "spool full ({bound} bytes max): dropped the {} oldest batches ({} datums)",
            dropped.batches,
            dropped.datums
        );
        let mut s = lock(&self.stats);
        s.batches_dropped += dropped.batches;
        s.datums_dropped += dropped.datums;
        s.datums_overflowed += dropped.datums;
    }

    fn publish_spool(&self) {
        let mut s = lock(&self.stats);
        s.batches_spooled = self.spool.len() as u64;
        s.datums_spooled = self.spool.datums();
        s.datums_in_memory = self.spool.datums_in_memory();
    }

    /// Sends queued batches while the endpoint takes them, reading new
    /// datums between sends so collection is never held up by a drain.
    fn send_due(&mut self, rx: &Receiver<Msg>) {
        self.send_while_taken(rx);
        self.log_auth_expired();
    }

    fn send_while_taken(&mut self, rx: &Receiver<Msg>) {
        while self.has_pending()
            && self
                .failing
                .as_ref()
                .is_none_or(|f| Instant::now() >= f.next_attempt)
        {
            if !self.send_one(self.cfg.request_timeout) {
                return;
            }
            while let Ok(msg) = rx.try_recv() {
                match msg {
                    Msg::Datums(d) => self.add(d),
                    Msg::Shutdown(deadline) => {
                        self.pending_shutdown = Some(deadline);
                        return;
                    }
                }
            }
        }
    }

    /// Sends the oldest batch. Returns false when the endpoint is failing.
    fn send_one(&mut self, timeout: Duration) -> bool {
        let from_spool = !self.spool.is_empty();
        let batch = if from_spool {
            match self.spool.peek() {
                Ok(Some(b)) => b,
                Ok(None) => return true,
                Err(e) => {
                    crate::error!("dropping an unreadable spooled batch: {e}");
                    if let Err(e) = self.spool.pop() {
                        crate::error!("spool: {e}");
                        return false;
                    }
                    lock(&self.stats).batches_dropped += 1;
                    self.publish_spool();
                    return true;
                }
            }
        } else {
            match self.outbox.front() {
                Some(b) => b.clone(),
                None => return true,
            }
        };
        let outcome = self.transport.send(&batch, timeout);
        match outcome {
            Outcome::Accepted => {
                self.recovered();
                self.remove_sent(from_spool);
                let mut s = lock(&self.stats);
                s.batches_sent += 1;
                s.datums_sent += u64::from(batch.datums);
                true
            }
            Outcome::Rejected {
                status,
                code,
                message,
            } => {
                self.recovered();
                crate::error!(
                    "PutMetricData rejected by {} (HTTP {status} {code}: {message}); dropped batch {} ({} datums)",
                    self.cfg.endpoint,
                    batch.id,
                    batch.datums
                );
                self.remove_sent(from_spool);
                let mut s = lock(&self.stats);
                s.batches_dropped += 1;
                s.datums_dropped += u64::from(batch.datums);
                s.datums_rejected += u64::from(batch.datums);
                true
            }
            Outcome::AuthFailed {
                status,
                code,
                message,
                clock_skew,
            } => {
                if self.too_old_to_keep(&batch) {
                    self.remove_sent(from_spool);
                    self.auth_expired.batches += 1;
                    self.auth_expired.datums += u64::from(batch.datums);
                    let mut s = lock(&self.stats);
                    s.batches_dropped += 1;
                    s.datums_dropped += u64::from(batch.datums);
                    s.datums_auth_expired += u64::from(batch.datums);
                    return true;
                }
                let reason = format!("HTTP {status} {code}: {message}");
                self.failed(FailureKind::Auth { clock_skew }, &reason);
                if !from_spool {
                    while let Some(b) = self.outbox.pop_front() {
                        self.spool_batch(b);
                    }
                }
                false
            }
            Outcome::Retry(reason) => {
                self.failed(FailureKind::Unreachable, &reason);
                if !from_spool {
                    while let Some(b) = self.outbox.pop_front() {
                        self.spool_batch(b);
                    }
                }
                false
            }
        }
    }

    /// Whether a batch refused for authentication has been kept long enough:
    /// its age from its opening, or, for an id without an opening time, how
    /// long the endpoint has been refusing.
    fn too_old_to_keep(&self, batch: &SealedBatch) -> bool {
        let now_ms = super::batch::unix_ms_now();
        let opened = batch.id.opened_at();
        let age = if (PLAUSIBLE_OPENING_MS..=now_ms.saturating_add(86_400_000)).contains(&opened) {
            Duration::from_millis(now_ms.saturating_sub(opened))
        } else {
            match &self.failing {
                Some(f) if matches!(f.kind, FailureKind::Auth { .. }) => f.since.elapsed(),
                _ => Duration::ZERO,
            }
        };
        age >= self.cfg.auth_failure_max_age
    }

    fn log_auth_expired(&mut self) {
        let d = std::mem::take(&mut self.auth_expired);
        if d.batches > 0 {
            crate::error!(
                "dropped {} batches ({} datums) older than {} that {} refuses for access key {}",
                d.batches,
                d.datums,
                human(self.cfg.auth_failure_max_age),
                self.cfg.endpoint,
                self.cfg.access_key_id
            );
        }
    }

    fn remove_sent(&mut self, from_spool: bool) {
        if from_spool {
            if let Err(e) = self.spool.pop() {
                crate::error!("spool: cannot remove a sent batch (it will be re-sent): {e}");
            }
            self.publish_spool();
        } else if let Some(b) = self.outbox.pop_front() {
            self.journal.remove(b.id);
        }
    }

    fn failed(&mut self, kind: FailureKind, reason: &str) {
        let now = Instant::now();
        let delay = self.backoff.next_delay();
        lock(&self.stats).retries += 1;
        match &mut self.failing {
            Some(f) if f.kind == kind => {
                f.attempts += 1;
                f.next_attempt = now + delay;
                if f.attempts % LOG_EVERY_NTH_FAILURE == 0
                    || now.duration_since(f.last_logged) >= LOG_AT_LEAST_EVERY
                {
                    f.last_logged = now;
                    let what = match kind {
                        FailureKind::Unreachable => "still failing".to_owned(),
                        FailureKind::Auth { .. } => {
                            format!("still refusing access key {}", self.cfg.access_key_id)
                        }
                    };
                    crate::warn!(
                        "{} {what} after {} ({} attempts): {reason}; {} batches ({} datums) spooled",
                        self.cfg.endpoint,
                        human(now.duration_since(f.since)),
                        f.attempts,
                        self.spool.len(),
                        self.spool.datums()
                    );
                }
            }
            _ => {
                self.log_new_failure(kind, reason);
                self.failing = Some(Failing {
                    kind,
                    since: now,
                    attempts: 1,
                    last_logged: now,
                    next_attempt: now + delay,
                });
            }
        }
    }

    /// The one loud line that starts a failure burst.
    fn log_new_failure(&self, kind: FailureKind, reason: &str) {
        let (endpoint, key, spool) = (
            &self.cfg.endpoint,
            &self.cfg.access_key_id,
            self.cfg.spool_dir.display(),
        );
        let keep = human(self.cfg.auth_failure_max_age);
        match kind {
            FailureKind::Unreachable => crate::warn!(
                "cannot ship to {endpoint}: {reason}; spooling to {spool} and retrying with backoff"
            ),
            FailureKind::Auth { clock_skew: false } => crate::error!(
                "{endpoint} refuses access key {key} ({reason}): the key is wrong, deleted or \
                 denied PutMetricData; spooling to {spool} and retrying with backoff, dropping \
                 batches older than {keep}"
            ),
            FailureKind::Auth { clock_skew: true } => crate::error!(
                "clock skew: {endpoint} refuses access key {key}'s signatures as out of date \
                 ({reason}): this host's clock is off, check NTP; spooling to {spool} and \
                 retrying with backoff, dropping batches older than {keep}"
            ),
        }
    }

    fn recovered(&mut self) {
        self.backoff.reset();
        if let Some(f) = self.failing.take() {
            let what = match f.kind {
                FailureKind::Unreachable => "back",
                FailureKind::Auth { .. } => "accepts the key again",
            };
            crate::info!(
                "{} {what} after {}, draining {} spooled batches",
                self.cfg.endpoint,
                human(f.since.elapsed()),
                self.spool.len()
            );
        }
    }

    /// At exit, batches only memory holds (the spool cannot be written) get
    /// one last try at the spool; what still cannot go there is lost, and
    /// counted and logged as such.
    fn keep_or_count_in_memory(&mut self) {
        if self.spool.datums_in_memory() == 0 {
            return;
        }
        let dropped = self.spool.retry_spool_now();
        self.count_overflow(dropped);
        let lost = self.spool.forget_memory();
        if lost.batches > 0 {
            crate::error!(
                "exiting with {} batches ({} datums) that only memory held: the spool {} cannot be written; they are lost",
                lost.batches,
                lost.datums,
                self.cfg.spool_dir.display()
            );
            let mut s = lock(&self.stats);
            s.batches_dropped += lost.batches;
            s.datums_dropped += lost.datums;
        }
    }

    /// Seals the partial batch, sends what the deadline allows, spools the
    /// rest.
    fn shutdown(mut self, deadline: Instant) -> ShutdownReport {
        let started = Instant::now();
        let sent_before = lock(&self.stats).datums_sent;
        if let Some(b) = self.batcher.seal() {
            self.route(b);
        }
        while self.has_pending() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if let Some(f) = &self.failing {
                // A refused key does not get fixed while the agent stops:
                // keep the batches for the next start instead of waiting.
                if f.next_attempt >= deadline || matches!(f.kind, FailureKind::Auth { .. }) {
                    break;
                }
                std::thread::sleep(f.next_attempt.saturating_duration_since(now));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.send_one(left.min(self.cfg.request_timeout)) && self.failing.is_none() {
                break;
            }
        }
        while let Some(b) = self.outbox.pop_front() {
            self.spool_batch(b);
        }
        self.log_auth_expired();
        self.keep_or_count_in_memory();
        self.publish_spool();
        let s = *lock(&self.stats);
        ShutdownReport {
            datums_flushed: s.datums_sent - sent_before,
            batches_spooled: s.batches_spooled,
            datums_spooled: s.datums_spooled,
            stats: s,
            took: started.elapsed(),
        }
    }
}

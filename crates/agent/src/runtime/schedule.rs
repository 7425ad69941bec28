//! Collection scheduling: one thread per collection interval, and worker
//! threads that run the collectors, each worker under its own timeout. A
//! collector that may block ([`Collector::may_block`]: `disk`, `procstat`,
//! …) has a worker of its own; those that only read kernel counters share
//! one per interval. A worker that does not answer in time (a `statvfs` on a
//! dead NFS mount blocks forever) is reported once and skipped until it
//! returns; the others keep their pace. Its late answer is still published,
//! with its own collection timestamp.

use super::{DatumSink, StopHandle, unix_ms};
use crate::collect::{CollectError, Collector, Reading};
use crate::pipeline::Pipeline;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Upper bound of a collector's timeout (it is also at most its interval).
pub const DEFAULT_TIMEOUT_CAP: Duration = Duration::from_secs(10);

/// A collector and where its readings go.
pub struct CollectorSlot {
    /// Index of the plugin in the pipeline (`Pipeline::datums`).
    pub index: usize,
    /// Name in logs (`disk`, `procstat[1]`).
    pub label: String,
    pub interval: Duration,
    pub collector: Box<dyn Collector>,
}

/// What the scheduler reports about collectors (logged by default).
#[derive(Debug, Clone, PartialEq)]
pub enum CollectorEvent {
    /// First failure of a streak (or a different error than the last one).
    Failed { label: String, error: String },
    /// Returned successfully after failing.
    Recovered { label: String },
    /// Did not answer within its timeout; further runs are skipped.
    Stuck { label: String, after: Duration },
    /// A stuck collector finally answered.
    Unstuck { label: String, after: Duration },
}

impl std::fmt::Display for CollectorEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectorEvent::Failed { label, error } => {
                write!(f, "collector {label} failed: {error}")
            }
            CollectorEvent::Recovered { label } => write!(f, "collector {label} recovered"),
            CollectorEvent::Stuck { label, after } => write!(
                f,
                "collector {label} stuck for {}s (hung mount?); skipping it until it returns",
                after.as_secs_f64().round()
            ),
            CollectorEvent::Unstuck { label, after } => write!(
                f,
                "collector {label} recovered: returned after {:.1}s",
                after.as_secs_f64()
            ),
        }
    }
}

/// Receives collector events.
pub type EventSink = Arc<dyn Fn(&CollectorEvent) + Send + Sync>;

/// The default event sink: one log line per event.
pub fn log_events() -> EventSink {
    Arc::new(|e: &CollectorEvent| match e {
        CollectorEvent::Failed { .. } | CollectorEvent::Stuck { .. } => crate::error!("{e}"),
        CollectorEvent::Recovered { .. } | CollectorEvent::Unstuck { .. } => crate::info!("{e}"),
    })
}

pub(super) enum Event {
    /// A worker's round: one result per member, in member order.
    Done {
        slot: usize,
        timestamp_ms: i64,
        results: Vec<Result<Vec<Reading>, CollectError>>,
    },
    Stop,
}

/// The running collection threads.
pub struct Collection {
    threads: Vec<JoinHandle<()>>,
}

impl Collection {
    /// Waits for every interval thread to end (after `StopHandle::stop`).
    /// Collector workers are not waited for: a stuck one may never return.
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Starts one thread per distinct interval among `slots`. `timeout_cap`
/// bounds each collector's timeout (`min(interval, cap)`).
pub fn start_collection(
    pipeline: Arc<Pipeline>,
    slots: Vec<CollectorSlot>,
    sink: Arc<dyn DatumSink>,
    events: EventSink,
    stop: &StopHandle,
    timeout_cap: Duration,
) -> std::io::Result<Collection> {
    let mut groups: Vec<(Duration, Vec<CollectorSlot>)> = Vec::new();
    for slot in slots {
        match groups.iter_mut().find(|(i, _)| *i == slot.interval) {
            Some((_, g)) => g.push(slot),
            None => groups.push((slot.interval, vec![slot])),
        }
    }
    let mut threads = Vec::with_capacity(groups.len());
    for (interval, slots) in groups {
        let (tx, rx) = mpsc::channel();
        stop.register(tx.clone());
        // Collectors that only read kernel counters share a worker.
        let (shared, own): (Vec<_>, Vec<_>) =
            slots.into_iter().partition(|s| !s.collector.may_block());
        let mut teams: Vec<Vec<CollectorSlot>> = own.into_iter().map(|s| vec![s]).collect();
        if !shared.is_empty() {
            teams.push(shared);
        }
        let mut workers = Vec::with_capacity(teams.len());
        for (i, team) in teams.into_iter().enumerate() {
            workers.push(Worker::spawn(i, team, tx.clone())?);
        }
        drop(tx);
        let group = Group {
            interval,
            timeout: interval.min(timeout_cap),
            workers,
            pending: Vec::new(),
            rx,
            pipeline: Arc::clone(&pipeline),
            sink: Arc::clone(&sink),
            events: Arc::clone(&events),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("interval-{}s", interval.as_secs()))
                .spawn(move || group.run())?,
        );
    }
    Ok(Collection { threads })
}

/// A collector a worker runs: where its readings go, and its error streak.
struct Member {
    /// Index of the plugin in the pipeline (`Pipeline::datums`).
    index: usize,
    label: String,
    last_error: Option<String>,
}

struct Worker {
    members: Vec<Member>,
    /// The members' labels, for stuck/unstuck events.
    label: String,
    tx: Sender<i64>,
    /// When the in-flight run started; `None` when idle.
    busy_since: Option<Instant>,
    stuck_reported: bool,
    dead_reported: bool,
}

impl Worker {
    fn spawn(
        slot_id: usize,
        team: Vec<CollectorSlot>,
        events: Sender<Event>,
    ) -> std::io::Result<Worker> {
        let (tx, rx) = mpsc::channel::<i64>();
        let label = team
            .iter()
            .map(|s| s.label.as_str())
            .collect::<Vec<_>>()
            .join("+");
        let members: Vec<Member> = team
            .iter()
            .map(|s| Member {
                index: s.index,
                label: s.label.clone(),
                last_error: None,
            })
            .collect();
        let mut collectors: Vec<Box<dyn Collector>> =
            team.into_iter().map(|s| s.collector).collect();
        // Thread names are cut at 15 bytes by the kernel.
        let thread_name = match collectors.len() {
            1 => format!("collect-{label}"),
            _ => "collect-kernel".to_string(),
        };
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                while let Ok(timestamp_ms) = rx.recv() {
                    // A panicking collector must not take its thread (and
                    // with it every later collection) down silently.
                    let results = collectors
                        .iter_mut()
                        .map(|c| {
                            std::panic::catch_unwind(AssertUnwindSafe(|| c.collect()))
                                .unwrap_or_else(|_| {
                                    Err(CollectError::Other("collector panicked".into()))
                                })
                        })
                        .collect();
                    let done = Event::Done {
                        slot: slot_id,
                        timestamp_ms,
                        results,
                    };
                    if events.send(done).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Worker {
            members,
            label,
            tx,
            busy_since: None,
            stuck_reported: false,
            dead_reported: false,
        })
    }
}

struct Group {
    interval: Duration,
    timeout: Duration,
    workers: Vec<Worker>,
    /// Datums of the round in progress, submitted together once every
    /// collector that is not stuck has answered: one hand-over (and one
    /// wake-up of the shipper) per round instead of one per collector.
    pending: Vec<crate::ship::Datum>,
    rx: Receiver<Event>,
    pipeline: Arc<Pipeline>,
    sink: Arc<dyn DatumSink>,
    events: EventSink,
}

impl Group {
    fn run(mut self) {
        let start = Instant::now();
        let interval_ns = self.interval.as_nanos().max(1);
        loop {
            self.start_runs();
            // Ticks stay on the start + k·interval grid; a missed one (the
            // host was suspended) is skipped rather than run in a burst.
            let tick = start.elapsed().as_nanos() / interval_ns + 1;
            let next =
                start + Duration::from_nanos((interval_ns * tick).min(u64::MAX as u128) as u64);
            if self.wait_until(next).is_break() {
                return;
            }
        }
    }

    fn start_runs(&mut self) {
        // Whatever a late or slow collector left from the last round.
        self.submit_pending();
        let now_ms = unix_ms();
        for w in &mut self.workers {
            if w.busy_since.is_some() {
                continue; // never a second instance of a running collector
            }
            if w.tx.send(now_ms).is_ok() {
                w.busy_since = Some(Instant::now());
            } else if !w.dead_reported {
                w.dead_reported = true;
                (self.events)(&CollectorEvent::Failed {
                    label: w.label.clone(),
                    error: "collector thread ended".into(),
                });
            }
        }
    }

    /// Handles results until `deadline`; `Break` on stop.
    fn wait_until(&mut self, deadline: Instant) -> std::ops::ControlFlow<()> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return std::ops::ControlFlow::Continue(());
            }
            let stuck_at = self
                .workers
                .iter()
                .filter(|w| !w.stuck_reported)
                .filter_map(|w| w.busy_since.map(|s| s + self.timeout))
                .min();
            let wake = stuck_at.map_or(deadline, |s| s.min(deadline));
            match self.rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    self.submit_pending();
                    return std::ops::ControlFlow::Break(());
                }
                Ok(Event::Done {
                    slot,
                    timestamp_ms,
                    results,
                }) => self.done(slot, timestamp_ms, results),
                Err(RecvTimeoutError::Timeout) => self.report_stuck(),
            }
            if self
                .workers
                .iter()
                .all(|w| w.busy_since.is_none() || w.stuck_reported)
            {
                self.submit_pending();
            }
        }
    }

    fn submit_pending(&mut self) {
        if !self.pending.is_empty() {
            self.sink.submit(std::mem::take(&mut self.pending));
        }
    }

    fn report_stuck(&mut self) {
        let now = Instant::now();
        for w in &mut self.workers {
            if let Some(since) = w.busy_since
                && !w.stuck_reported
                && now.duration_since(since) >= self.timeout
            {
                w.stuck_reported = true;
                (self.events)(&CollectorEvent::Stuck {
                    label: w.label.clone(),
                    after: self.timeout,
                });
            }
        }
    }

    fn done(
        &mut self,
        slot: usize,
        timestamp_ms: i64,
        results: Vec<Result<Vec<Reading>, CollectError>>,
    ) {
        let Some(w) = self.workers.get_mut(slot) else {
            return;
        };
        let took = w.busy_since.take().map(|s| s.elapsed()).unwrap_or_default();
        if std::mem::take(&mut w.stuck_reported) {
            (self.events)(&CollectorEvent::Unstuck {
                label: w.label.clone(),
                after: took,
            });
        }
        for (m, result) in w.members.iter_mut().zip(results) {
            match result {
                Ok(readings) => {
                    if m.last_error.take().is_some() {
                        (self.events)(&CollectorEvent::Recovered {
                            label: m.label.clone(),
                        });
                    }
                    let datums = self.pipeline.datums(m.index, &readings, timestamp_ms);
                    if self.pending.is_empty() {
                        self.pending = datums;
                    } else {
                        self.pending.extend(datums);
                    }
                }
                Err(e) => {
                    let error = e.to_string();
                    if m.last_error.as_deref() != Some(error.as_str()) {
                        (self.events)(&CollectorEvent::Failed {
                            label: m.label.clone(),
                            error: error.clone(),
                        });
                    }
                    m.last_error = Some(error);
                }
            }
        }
    }
}

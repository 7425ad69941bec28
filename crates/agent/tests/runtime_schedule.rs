//! The collection scheduler: a hung collector is reported once, never run
//! twice at the same time, and does not hold the others back; its late
//! answer is still published; failures and recoveries are reported.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stratus_agent::collect::{CollectError, Collector, Reading};
use stratus_agent::config::AgentConfig;
use stratus_agent::pipeline::Pipeline;
use stratus_agent::runtime::{
    CollectorEvent, CollectorSlot, DatumSink, EventSink, StopHandle, start_collection,
};
use stratus_agent::ship::Datum;

#[derive(Default)]
struct Recorder {
    datums: Mutex<Vec<Datum>>,
    /// Datums per `submit` call.
    submits: Mutex<Vec<usize>>,
}

impl DatumSink for Recorder {
    fn submit(&self, datums: Vec<Datum>) {
        self.submits.lock().unwrap().push(datums.len());
        self.datums.lock().unwrap().extend(datums);
    }
}

/// Answers at once with `used_percent = calls`.
struct Quick(Arc<AtomicUsize>);

impl Collector for Quick {
    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(vec![Reading {
            tags: vec![("path".into(), "/".into())],
            fields: vec![("used_percent", n as f64)],
        }])
    }
}

/// Blocks on its first call until released (a hung statvfs).
struct Hung {
    calls: Arc<AtomicUsize>,
    release: Receiver<()>,
}

impl Collector for Hung {
    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = self.release.recv();
        }
        Ok(vec![Reading {
            tags: vec![],
            fields: vec![("used_percent", 7.0)],
        }])
    }
}

/// Fails on calls 1 and 2, then succeeds.
struct Flaky(usize);

impl Collector for Flaky {
    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        self.0 += 1;
        if self.0 <= 2 {
            return Err(CollectError::Other("no /proc/meminfo".into()));
        }
        Ok(vec![Reading {
            tags: vec![],
            fields: vec![("used_percent", 1.0)],
        }])
    }
}

/// The pipeline's plugins, by index: a slot's label is its plugin's name.
const PLUGINS: [&str; 3] = ["disk", "mem", "swap"];

fn slot(index: usize, interval: Duration, collector: impl Collector + 'static) -> CollectorSlot {
    CollectorSlot {
        index,
        label: PLUGINS[index].into(),
        interval,
        collector: Box::new(collector),
    }
}

fn pipeline() -> Arc<Pipeline> {
    let cfg = AgentConfig::parse(
        r#"{"agent":{"omit_hostname":true},"metrics":{"metrics_collected":{
            "disk":{"measurement":["used_percent"]},
            "mem":{"measurement":["used_percent"]},
            "swap":{"measurement":["used_percent"]}}}}"#,
    )
    .unwrap();
    Arc::new(Pipeline::new(&cfg, "h", None).0)
}

fn recorder_events() -> (EventSink, Arc<Mutex<Vec<CollectorEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = Arc::clone(&events);
    let sink: EventSink = Arc::new(move |ev: &CollectorEvent| e.lock().unwrap().push(ev.clone()));
    (sink, events)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn hung_collector_is_reported_once_and_does_not_stall_the_others() {
    let interval = Duration::from_millis(50);
    let quick_calls = Arc::new(AtomicUsize::new(0));
    let hung_calls = Arc::new(AtomicUsize::new(0));
    let (release, release_rx) = mpsc::channel();
    let slots = vec![
        slot(
            0,
            interval,
            Hung {
                calls: Arc::clone(&hung_calls),
                release: release_rx,
            },
        ),
        slot(1, interval, Quick(Arc::clone(&quick_calls))),
    ];
    let sink = Arc::new(Recorder::default());
    let (events, seen) = recorder_events();
    let stop = StopHandle::default();
    let collection = start_collection(
        pipeline(),
        slots,
        sink.clone(),
        events,
        &stop,
        Duration::from_millis(100),
    )
    .unwrap();

    wait_for("ten mem collections", || {
        quick_calls.load(Ordering::SeqCst) >= 10
    });
    assert_eq!(
        hung_calls.load(Ordering::SeqCst),
        1,
        "a stuck collector must not be started again"
    );
    {
        let ev = seen.lock().unwrap();
        let stuck: Vec<_> = ev
            .iter()
            .filter(|e| matches!(e, CollectorEvent::Stuck { .. }))
            .collect();
        assert_eq!(stuck.len(), 1, "{ev:?}");
        assert_eq!(
            stuck[0].to_string(),
            "collector disk stuck for 0s (hung mount?); skipping it until it returns"
        );
    }
    // A collection is counted when it runs, its datums land once the
    // interval thread has handled its result: wait for those too.
    let mem_datums = || {
        sink.datums
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.metric_name == "mem_used_percent")
            .count()
    };
    wait_for("ten mem collections published", || mem_datums() >= 10);

    // The hung call returns: its reading is published with its own (old)
    // timestamp, recovery is reported, and it is scheduled again.
    let before = Instant::now();
    release.send(()).unwrap();
    wait_for("disk to run again", || {
        hung_calls.load(Ordering::SeqCst) >= 3
    });
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, CollectorEvent::Unstuck { label, .. } if label == "disk"))
    );
    let disk: Vec<Datum> = sink
        .datums
        .lock()
        .unwrap()
        .iter()
        .filter(|d| d.metric_name == "disk_used_percent")
        .cloned()
        .collect();
    assert!(disk.len() >= 2, "{disk:?}");
    let first_mem_ts = sink
        .datums
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.timestamp_ms)
        .min()
        .unwrap();
    assert!(
        disk[0].timestamp_ms <= first_mem_ts + 50,
        "late answer keeps its collection time"
    );

    stop.stop();
    collection.join();
    assert!(before.elapsed() < Duration::from_secs(5));
}

#[test]
fn one_round_of_collectors_is_handed_over_at_once() {
    let interval = Duration::from_millis(200);
    let calls = Arc::new(AtomicUsize::new(0));
    let slots = (0..3)
        .map(|index| slot(index, interval, Quick(Arc::clone(&calls))))
        .collect();
    let sink = Arc::new(Recorder::default());
    let (events, _seen) = recorder_events();
    let stop = StopHandle::default();
    let collection = start_collection(
        pipeline(),
        slots,
        sink.clone(),
        events,
        &stop,
        Duration::from_secs(5),
    )
    .unwrap();
    wait_for("three rounds handed over", || {
        sink.submits.lock().unwrap().len() >= 3
    });
    stop.stop();
    collection.join();
    let submits = sink.submits.lock().unwrap().clone();
    // Every round's three collectors, together (the last round may be cut
    // short by the stop).
    let full = &submits[..submits.len() - 1];
    assert!(full.iter().all(|&n| n == 3), "{submits:?}");
    assert_eq!(
        submits.iter().sum::<usize>(),
        sink.datums.lock().unwrap().len()
    );
}

#[test]
fn failures_are_reported_once_per_streak_then_recovery() {
    let slots = vec![slot(2, Duration::from_millis(20), Flaky(0))];
    let sink = Arc::new(Recorder::default());
    let (events, seen) = recorder_events();
    let stop = StopHandle::default();
    let c = start_collection(
        pipeline(),
        slots,
        sink.clone(),
        events,
        &stop,
        Duration::from_secs(1),
    )
    .unwrap();
    wait_for("a swap datum", || !sink.datums.lock().unwrap().is_empty());
    stop.stop();
    c.join();
    let ev = seen.lock().unwrap().clone();
    assert_eq!(
        ev,
        vec![
            CollectorEvent::Failed {
                label: "swap".into(),
                error: "no /proc/meminfo".into()
            },
            CollectorEvent::Recovered {
                label: "swap".into()
            },
        ]
    );
    let d = &sink.datums.lock().unwrap()[0];
    assert_eq!(d.metric_name, "swap_used_percent");
    // Resolution follows the configured interval (60 s here), not the test's pace.
    assert!(!d.high_resolution);
}

#[test]
fn stop_ends_long_intervals_at_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let slots = vec![slot(
        1,
        Duration::from_secs(3600),
        Quick(Arc::clone(&calls)),
    )];
    let sink = Arc::new(Recorder::default());
    let (events, _) = recorder_events();
    let stop = StopHandle::default();
    let c = start_collection(
        pipeline(),
        slots,
        sink.clone(),
        events,
        &stop,
        Duration::from_secs(10),
    )
    .unwrap();
    // Collected once at start, not at the end of the first hour.
    wait_for("the first collection", || {
        !sink.datums.lock().unwrap().is_empty()
    });
    let t = Instant::now();
    stop.stop();
    c.join();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A kernel-counter collector (`may_block` false) that records the thread
/// it ran on.
struct Counter {
    calls: Arc<AtomicUsize>,
    threads: Arc<Mutex<std::collections::HashSet<std::thread::ThreadId>>>,
    fail_first: bool,
}

impl Collector for Counter {
    fn may_block(&self) -> bool {
        false
    }

    fn collect(&mut self) -> Result<Vec<Reading>, CollectError> {
        self.threads
            .lock()
            .unwrap()
            .insert(std::thread::current().id());
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_first && n == 0 {
            return Err(CollectError::Other("first call fails".into()));
        }
        Ok(vec![Reading {
            tags: vec![],
            fields: vec![("used_percent", n as f64)],
        }])
    }
}

#[test]
fn kernel_counter_collectors_share_a_thread_and_a_hung_one_stalls_none_of_them() {
    let interval = Duration::from_millis(40);
    let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let (mem_calls, swap_calls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hung_calls = Arc::new(AtomicUsize::new(0));
    let (release, release_rx) = mpsc::channel();
    let slots = vec![
        slot(
            0,
            interval,
            Hung {
                calls: Arc::clone(&hung_calls),
                release: release_rx,
            },
        ),
        slot(
            1,
            interval,
            Counter {
                calls: Arc::clone(&mem_calls),
                threads: Arc::clone(&threads),
                fail_first: true,
            },
        ),
        slot(
            2,
            interval,
            Counter {
                calls: Arc::clone(&swap_calls),
                threads: Arc::clone(&threads),
                fail_first: false,
            },
        ),
    ];
    let sink = Arc::new(Recorder::default());
    let (events, seen) = recorder_events();
    let stop = StopHandle::default();
    let collection = start_collection(
        pipeline(),
        slots,
        sink.clone(),
        events,
        &stop,
        Duration::from_millis(80),
    )
    .unwrap();
    let published = |name: &str| {
        sink.datums
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.metric_name == name)
            .count()
    };
    // While disk hangs, both shared collectors keep their pace.
    wait_for("mem and swap published while disk hangs", || {
        published("mem_used_percent") >= 5 && published("swap_used_percent") >= 5
    });
    assert_eq!(hung_calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        threads.lock().unwrap().len(),
        1,
        "mem and swap share one thread"
    );
    release.send(()).unwrap();
    stop.stop();
    collection.join();
    // A member's failure is reported under its own name; its partner's
    // readings of that round still arrive.
    let ev = seen.lock().unwrap();
    assert!(
        ev.iter()
            .any(|e| matches!(e, CollectorEvent::Failed { label, .. } if label == "mem")),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, CollectorEvent::Recovered { label } if label == "mem")),
        "{ev:?}"
    );
    assert!(
        !ev.iter()
            .any(|e| matches!(e, CollectorEvent::Failed { label, .. } if label == "swap")),
        "{ev:?}"
    );
    assert!(published("swap_used_percent") >= published("mem_used_percent"));
}

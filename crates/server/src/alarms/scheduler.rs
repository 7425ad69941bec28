//! The alarm scheduler: a tokio task that, once a second, evaluates every
//! metric alarm that is due and runs due pending actions, on the blocking
//! pool (tsdb queries and redb transactions are synchronous).
//!
//! An alarm is evaluated every min(Period, 60 s) — at each period boundary
//! for 10/20/30 s periods, every minute otherwise (as AWS does: a sliding
//! window advances each minute, a wall-clock window sees its period close
//! within a minute) — [`delay_ms`] after the boundary to give late
//! datapoints time to arrive. A new or reconfigured alarm (including every
//! alarm after a restart) is evaluated on the next tick. Composite alarms are
//! evaluated when first seen and whenever a child changes state.
//!
//! Scale: the scheduler keeps a [`View`] of the alarms table in memory,
//! loaded once and then refreshed from the names [`super::changes`] reports
//! (so a pass never decodes the whole table), and a time-ordered queue of due
//! times (so a pass touches only the alarms that are due). Due metric alarms
//! are evaluated read-only, in parallel chunks when there are many; only real
//! transitions are written, in batched transactions.

use super::store::{self, ALARMS, Change};
use super::{actions, engine};
use crate::meta;
use crate::state::{AlarmOwnership, AppState};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use stratus_model::Timestamp;
use stratus_model::alarm::record::{AlarmKind, AlarmRecord};

pub use stratus_model::alarm::window::{cadence_secs, delay_ms};

/// The next evaluation time strictly after `now`.
pub fn next_due(now: Timestamp, period_secs: i64) -> i64 {
    let c = cadence_secs(period_secs) * 1000;
    let d = delay_ms(period_secs);
    ((now.millis() - d).div_euclid(c) + 1) * c + d
}

/// History is pruned this often.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// Below this many due alarms a pass evaluates on one thread: spawning
/// costs more than it saves.
const PARALLEL_MIN: usize = 1_000;

/// The scheduler's state between passes.
#[derive(Debug, Default)]
pub struct Schedule {
    /// `None` until the first pass loads it.
    view: Option<View>,
    next_prune_ms: i64,
}

/// The scheduler's in-memory copy of the alarms table and its due queue.
#[derive(Debug, Default)]
struct View {
    alarms: HashMap<String, AlarmRecord>,
    /// (due time ms, name) of every alarm waiting for an evaluation. Composite
    /// alarms leave the queue once evaluated: their children's changes drive them.
    queue: BTreeSet<(i64, String)>,
    /// Each queued alarm's due time (its key in `queue`).
    due: HashMap<String, i64>,
    /// Names referenced by some composite alarm's rule.
    children: HashSet<String>,
    /// A composite alarm was added, changed or removed: rebuild `children`.
    composites_changed: bool,
    /// Cluster mode: the alarms table's version when last read (other
    /// nodes' writes do not reach `alarm_changes`).
    table_version: i64,
}

fn is_composite(a: &AlarmRecord) -> bool {
    matches!(a.kind, AlarmKind::Composite(_))
}

impl View {
    /// Reads the whole table (the first pass, and refreshes touching much of it).
    fn load(state: &AppState, now_ms: i64) -> meta::Result<View> {
        let mut v = View::default();
        v.reload(state, now_ms)?;
        Ok(v)
    }

    fn reload(&mut self, state: &AppState, now_ms: i64) -> meta::Result<()> {
        let all = state.meta.list::<AlarmRecord>(ALARMS)?;
        let present: HashSet<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
        let gone: Vec<String> = self
            .alarms
            .keys()
            .filter(|n| !present.contains(n.as_str()))
            .cloned()
            .collect();
        for n in &gone {
            self.remove(n);
        }
        for (_, a) in all {
            self.upsert(a, now_ms);
        }
        Ok(())
    }

    /// Applies the writes reported since the last pass.
    fn refresh(&mut self, state: &AppState, now_ms: i64) -> meta::Result<()> {
        if state.metrics.cluster_runtime().is_some() {
            let version = state.meta.table_version(ALARMS)?;
            if version != self.table_version {
                state.alarm_changes.take();
                self.reload(state, now_ms)?;
                self.table_version = version;
                return Ok(());
            }
        }
        let names = state.alarm_changes.take();
        if names.is_empty() {
            return Ok(());
        }
        // Many changes (e.g. the round after a mass transition): one scan is
        // cheaper than as many point reads.
        let result = if names.len() > self.alarms.len() / 8 + 64 {
            self.reload(state, now_ms)
        } else {
            names.iter().try_for_each(|n| {
                match state.meta.get::<AlarmRecord>(ALARMS, n)? {
                    Some(a) => self.upsert(a, now_ms),
                    None => self.remove(n),
                }
                Ok(())
            })
        };
        if result.is_err() {
            // Try these again on the next pass.
            state
                .alarm_changes
                .touch_all(names.iter().map(String::as_str));
        }
        result
    }

    /// Stores `a`; a new or reconfigured alarm is due at once.
    fn upsert(&mut self, a: AlarmRecord, now_ms: i64) {
        let old = self.alarms.get(&a.name);
        let reconfigured = old.is_none_or(|o| o.config_updated_ms != a.config_updated_ms);
        if old.is_some_and(is_composite) || is_composite(&a) {
            self.composites_changed = true;
        }
        if reconfigured {
            self.schedule(&a.name, now_ms);
        }
        self.alarms.insert(a.name.clone(), a);
    }

    fn remove(&mut self, name: &str) {
        self.unschedule(name);
        if self.alarms.remove(name).as_ref().is_some_and(is_composite) {
            self.composites_changed = true;
        }
    }

    fn schedule(&mut self, name: &str, at_ms: i64) {
        self.unschedule(name);
        self.queue.insert((at_ms, name.to_string()));
        self.due.insert(name.to_string(), at_ms);
    }

    fn unschedule(&mut self, name: &str) {
        if let Some(at) = self.due.remove(name) {
            self.queue.remove(&(at, name.to_string()));
        }
    }

    /// Removes and returns the names due at `now_ms`, earliest first.
    fn take_due(&mut self, now_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        while self.queue.first().is_some_and(|(at, _)| *at <= now_ms) {
            if let Some((_, name)) = self.queue.pop_first() {
                self.due.remove(&name);
                out.push(name);
            }
        }
        out
    }

    fn rebuild_children(&mut self) {
        if !std::mem::take(&mut self.composites_changed) {
            return;
        }
        self.children = self
            .alarms
            .values()
            .filter_map(|a| match &a.kind {
                AlarmKind::Composite(c) => Some(c.children.iter().cloned()),
                AlarmKind::Metric(_) => None,
            })
            .flatten()
            .collect();
    }
}

/// Evaluates the metric alarms `names` (read-only): the changes to commit,
/// in `names` order. Many alarms are split over the available cores.
fn evaluate_metric_alarms(
    state: &AppState,
    alarms: &HashMap<String, AlarmRecord>,
    names: &[String],
    now: Timestamp,
) -> Vec<(String, Change)> {
    let one = |name: &String| -> Option<(String, Change)> {
        let a = alarms.get(name)?;
        if !matches!(a.kind, AlarmKind::Metric(_)) {
            return None;
        }
        match engine::metric_change(state, a, now) {
            Ok(change) => change.map(|ch| (name.clone(), ch)),
            Err(e) => {
                tracing::warn!(alarm = %name, error = %e.message, "alarm evaluation failed");
                None
            }
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if names.len() < PARALLEL_MIN || threads < 2 {
        return names.iter().filter_map(one).collect();
    }
    let one = &one;
    let per_thread = names.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = names
            .chunks(per_thread)
            .map(|part| s.spawn(move || part.iter().filter_map(one).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| {
                p.join().unwrap_or_else(|_| {
                    tracing::error!("alarm evaluation thread panicked");
                    Vec::new()
                })
            })
            .collect()
    })
}

/// One scheduler pass at `now`. Returns the number of alarms evaluated.
pub fn tick(state: &AppState, sched: &mut Schedule, now: Timestamp) -> usize {
    let started = std::time::Instant::now();
    let view = match &mut sched.view {
        Some(v) => {
            if let Err(e) = v.refresh(state, now.millis()) {
                tracing::error!(error = %e, "cannot read changed alarms");
            }
            v
        }
        None => {
            // Everything touched so far is in the load.
            state.alarm_changes.take();
            match View::load(state, now.millis()) {
                Ok(v) => sched.view.insert(v),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read alarms");
                    return 0;
                }
            }
        }
    };
    view.rebuild_children();
    let mut metric = Vec::new();
    let mut composite = Vec::new();
    for name in view.take_due(now.millis()) {
        match view.alarms.get(&name).map(|a| &a.kind) {
            Some(AlarmKind::Metric(c)) => {
                let next = next_due(now, c.period());
                view.schedule(&name, next);
                metric.push(name);
            }
            Some(AlarmKind::Composite(_)) => composite.push(name),
            None => {}
        }
    }
    // Cluster mode: only the alarms of the shards this node holds.
    let ours = |name: &String| state.alarm_ownership(name) != AlarmOwnership::Elsewhere;
    metric.retain(ours);
    composite.retain(ours);
    let evaluated = metric.len() + composite.len();
    let changes = evaluate_metric_alarms(state, &view.alarms, &metric, now);
    let committed = commit_by_shard(state, changes, now);
    let changed = committed.len();
    for done in committed {
        after_transition(state, view, done, now);
    }
    for name in composite {
        let Some(alarm) = view.alarms.get(&name) else {
            continue;
        };
        let lookup = |n: &str| view.alarms.get(n);
        let fence = store::Fence::for_alarm(state, &name);
        match engine::evaluate_composite(state, alarm, &lookup, None, now, fence.as_ref()) {
            Ok(Some(done)) => after_transition(state, view, done, now),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(alarm = %name, error = %e.message, "alarm evaluation failed")
            }
        }
    }
    if evaluated > 0 {
        // `stratus bench alarms` reads this line to time a round.
        tracing::debug!(
            evaluated,
            changed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "alarm scheduler pass"
        );
    }
    actions::run_due(state, now);
    if now.millis() >= sched.next_prune_ms {
        sched.next_prune_ms = now.millis() + PRUNE_EVERY_MS;
        match super::store::prune_history(state, now) {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "pruned alarm history older than 14 days"),
            Err(e) => tracing::error!(error = %e, "cannot prune alarm history"),
        }
    }
    evaluated
}

/// Commits transitions; in cluster mode one group per alarm shard, each
/// fenced by the shard's epoch, so a lost shard refuses only its own.
fn commit_by_shard(
    state: &AppState,
    changes: Vec<(String, store::Change)>,
    now: Timestamp,
) -> Vec<store::Committed> {
    // Keyed by (shard, epoch); `None` in single-node mode.
    type ShardEpoch = Option<(u32, i64)>;
    let mut groups: HashMap<ShardEpoch, Vec<(String, store::Change)>> = HashMap::new();
    for (name, change) in changes {
        let key = match state.alarm_ownership(&name) {
            AlarmOwnership::Shard { shard, epoch } => Some((shard, epoch)),
            AlarmOwnership::Single => None,
            AlarmOwnership::Elsewhere => continue,
        };
        groups.entry(key).or_default().push((name, change));
    }
    let mut out = Vec::new();
    for (key, changes) in groups {
        let fence = key.map(|(shard, epoch)| store::Fence {
            kind: stratus_cluster::shards::LEASE_KIND,
            id: shard as i32,
            owner: state.node_id().unwrap_or_default().to_string(),
            epoch,
        });
        if let (Some(pause), Some(f)) = (fault_pause_before_alarm_commit(), &fence) {
            // A stand-in for a GC pause or a frozen VM at the worst moment:
            // evaluated, not yet committed, shard lease possibly expired meanwhile.
            let alarms: Vec<&str> = changes.iter().map(|(n, _)| n.as_str()).collect();
            tracing::warn!(
                shard = f.id,
                epoch = f.epoch,
                ?alarms,
                ?pause,
                "fault injection: pausing before the alarm commit"
            );
            std::thread::sleep(pause);
        }
        match store::commit_changes_fenced(state, changes, now, fence.as_ref()) {
            Ok(c) => out.extend(c),
            Err(e) => tracing::error!(error = %e, "cannot commit alarm state changes"),
        }
    }
    out
}

/// `STRATUS_CLUSTER_FAULT_PAUSE_BEFORE_ALARM_COMMIT_MS`: fault injection for
/// the paused-evaluator test (tests/cluster), never set in production.
fn fault_pause_before_alarm_commit() -> Option<Duration> {
    std::env::var("STRATUS_CLUSTER_FAULT_PAUSE_BEFORE_ALARM_COMMIT_MS")
        .ok()?
        .parse()
        .ok()
        .map(Duration::from_millis)
}

/// Logs a committed transition, updates the view and re-evaluates the
/// composite alarms that reference the alarm.
fn after_transition(state: &AppState, view: &mut View, done: store::Committed, now: Timestamp) {
    let name = done.alarm.name.clone();
    tracing::info!(alarm = %name, from = done.old.as_str(), to = done.alarm.state.value.as_str(), "alarm state changed");
    let has_parent = view.children.contains(&name);
    view.alarms.insert(name.clone(), done.alarm.clone());
    let fence = store::Fence::for_alarm(state, &name);
    if let Err(e) = engine::cascade(state, done.alarm, now, has_parent, fence) {
        tracing::error!(alarm = %name, error = %e.message, "composite re-evaluation failed");
    }
}

/// Starts the scheduler; it runs until the task is aborted.
pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sched = Schedule::default();
        loop {
            // Wake just after the next whole second.
            let now = Timestamp::now().millis();
            let wait = 1000 - now.rem_euclid(1000) + 50;
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            let st = state.clone();
            let result = tokio::task::spawn_blocking(move || {
                let n = tick(&st, &mut sched, Timestamp::now());
                (sched, n)
            })
            .await;
            match result {
                Ok((s, _)) => sched = s,
                Err(e) => {
                    tracing::error!(error = %e, "alarm scheduler pass panicked");
                    sched = Schedule::default();
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times() {
        // Period 10 s: every 10 s, 2 s after the boundary.
        assert_eq!(next_due(Timestamp(100_000), 10), 102_000);
        assert_eq!(next_due(Timestamp(102_000), 10), 112_000);
        assert_eq!(next_due(Timestamp(101_999), 10), 102_000);
        // Period 3600 s: every minute, 10 s after it.
        assert_eq!(next_due(Timestamp(120_000), 3600), 130_000);
        assert_eq!(next_due(Timestamp(130_000), 3600), 190_000);
    }
}

//! The alarm scheduler: a tokio task that, once a second, evaluates every
//! metric alarm that is due and runs due pending actions, on the blocking
//! pool (tsdb queries and redb transactions are synchronous).
//!
//! An alarm is evaluated every min(Period, 60 s) — at each period boundary
//! for 10/20/30 s periods, every minute otherwise (as AWS does, so late data
//! of long periods is seen) — [`delay_ms`] after the boundary to give late
//! datapoints time to arrive. A new or reconfigured alarm (including every
//! alarm after a restart) is evaluated on the next tick. Composite alarms are
//! evaluated when first seen and whenever a child changes state.

use super::store::ALARMS;
use super::{actions, engine};
use crate::state::AppState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use stratus_model::Timestamp;
use stratus_model::alarm::record::{AlarmKind, AlarmRecord};

/// How long after a boundary an alarm is evaluated.
pub fn delay_ms(period_secs: i64) -> i64 {
    if period_secs < 60 { 2_000 } else { 10_000 }
}

/// Seconds between two evaluations of an alarm.
pub fn cadence_secs(period_secs: i64) -> i64 {
    period_secs.clamp(1, 60)
}

/// The next evaluation time strictly after `now`.
pub fn next_due(now: Timestamp, period_secs: i64) -> i64 {
    let c = cadence_secs(period_secs) * 1000;
    let d = delay_ms(period_secs);
    ((now.millis() - d).div_euclid(c) + 1) * c + d
}

/// History is pruned this often.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// Per alarm: the configuration version last seen and the next due time.
#[derive(Debug, Default)]
pub struct Schedule {
    due: HashMap<String, (i64, i64)>,
    next_prune_ms: i64,
}

/// One scheduler pass at `now`. Returns the number of alarms evaluated.
pub fn tick(state: &AppState, sched: &mut Schedule, now: Timestamp) -> usize {
    let alarms: Vec<AlarmRecord> = match state.meta.list::<AlarmRecord>(ALARMS) {
        Ok(l) => l.into_iter().map(|(_, a)| a).collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read alarms");
            return 0;
        }
    };
    sched
        .due
        .retain(|name, _| alarms.iter().any(|a| &a.name == name));
    let mut evaluated = 0;
    for alarm in &alarms {
        let version = alarm.config_updated_ms;
        let due = match sched.due.get(&alarm.name) {
            Some(&(v, at)) if v == version => at <= now.millis(),
            _ => true,
        };
        if !due {
            continue;
        }
        evaluated += 1;
        let result = match &alarm.kind {
            AlarmKind::Metric(c) => {
                sched
                    .due
                    .insert(alarm.name.clone(), (version, next_due(now, c.period())));
                engine::evaluate_metric_alarm(state, alarm, now, delay_ms(c.period()))
            }
            AlarmKind::Composite(_) => {
                // Only on first sight; afterwards children's changes drive it.
                sched.due.insert(alarm.name.clone(), (version, i64::MAX));
                engine::evaluate_composite(state, alarm, &alarms, None, now)
            }
        };
        match result {
            Ok(Some(done)) => {
                tracing::info!(alarm = %alarm.name, from = done.old.as_str(), to = done.alarm.state.value.as_str(), "alarm state changed");
                if let Err(e) = engine::cascade(state, done.alarm, now, &alarms) {
                    tracing::error!(alarm = %alarm.name, error = %e.message, "composite re-evaluation failed");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(alarm = %alarm.name, error = %e.message, "alarm evaluation failed")
            }
        }
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
        assert_eq!(
            engine::range_end(Timestamp(7_212_000), 3600, 10_000),
            Timestamp(7_200_000)
        );
        assert_eq!(
            engine::range_end(Timestamp(7_205_000), 3600, 10_000),
            Timestamp(3_600_000)
        );
    }
}

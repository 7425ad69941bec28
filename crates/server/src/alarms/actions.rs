//! Runs pending alarm actions: hands each owed notification to SNS
//! ([`crate::sns::publish_alarm`]), records an Action history item and
//! removes it. A failed publish is retried with backoff and dropped (with a
//! failure item) after [`MAX_ATTEMPTS`]. Pending actions left by a crash are
//! found in the table and run on the next pass, with the same message id.

use super::store::{self, PENDING};
use crate::sns::{self, AlarmPublish};
use crate::state::AppState;
use stratus_model::Timestamp;
use stratus_model::alarm::record::{AlarmRecord, HistoryItemType, HistoryRecord, PendingAction};

/// Attempts per notification before it is dropped.
pub const MAX_ATTEMPTS: u32 = 3;
/// Backoff after the first failure; doubled after each further one.
const FIRST_RETRY_MS: i64 = 2_000;

/// Runs every pending action that is due at `now`. Returns how many ran.
pub fn run_due(state: &AppState, now: Timestamp) -> usize {
    let pending = match state.meta.list::<PendingAction>(PENDING) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read pending alarm actions");
            return 0;
        }
    };
    let mut ran = 0;
    for (key, p) in pending {
        if p.next_attempt_ms > now.millis() {
            continue;
        }
        // Cluster mode: the alarm's evaluator runs its actions (a second
        // runner would only be a no-op: the outbox keeps one delivery per
        // message and subscription).
        if state.alarm_ownership(&p.alarm_name) == crate::state::AlarmOwnership::Elsewhere {
            continue;
        }
        ran += 1;
        let msg = AlarmPublish {
            message_id: p.message_id.clone(),
            subject: p.subject.clone(),
            json_message: p.json_message.clone(),
            email_text: p.email_text.clone(),
        };
        let result = sns::publish_alarm(state, &p.action_arn, &msg);
        let now_ms = Timestamp::now().millis();
        let item = |summary: String, data: String| HistoryRecord {
            alarm_name: p.alarm_name.clone(),
            alarm_type: p.alarm_type,
            timestamp_ms: now_ms,
            item_type: if p.contributor.is_some() {
                HistoryItemType::AlarmContributorAction
            } else {
                HistoryItemType::Action
            },
            summary,
            data,
            contributor: p.contributor.clone(),
        };
        let state_ms = state_update_ms(state, &p.alarm_name);
        let r = match result {
            Ok(message_id) => state.meta.transact(|tx| {
                tx.delete(PENDING, &key)?;
                store::add_history(
                    tx,
                    &item(
                        format!("Successfully executed action {}", p.action_arn),
                        store::action_data(
                            &p.action_arn,
                            "Succeeded",
                            state_ms,
                            Some(&message_id),
                            None,
                        ),
                    ),
                )
            }),
            Err(e) if p.attempts + 1 >= MAX_ATTEMPTS => {
                tracing::warn!(action = %p.action_arn, alarm = %p.alarm_name, error = %e.message, "alarm action failed; giving up");
                state.meta.transact(|tx| {
                    tx.delete(PENDING, &key)?;
                    store::add_history(
                        tx,
                        &item(
                            format!(
                                "Failed to execute action {}. Received error: \"{}\" (after {} attempts)",
                                p.action_arn,
                                e.message,
                                p.attempts + 1
                            ),
                            store::action_data(&p.action_arn, "Failed", state_ms, None, Some(&e.message)),
                        ),
                    )
                })
            }
            Err(e) => {
                tracing::info!(action = %p.action_arn, alarm = %p.alarm_name, error = %e.message, "alarm action failed; will retry");
                let mut next = p.clone();
                next.attempts += 1;
                next.next_attempt_ms = now_ms + (FIRST_RETRY_MS << (p.attempts.min(10)));
                state.meta.put(PENDING, &key, &next)
            }
        };
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot record an alarm action outcome");
        }
    }
    ran
}

fn state_update_ms(state: &AppState, name: &str) -> i64 {
    state
        .meta
        .get::<AlarmRecord>(store::ALARMS, name)
        .ok()
        .flatten()
        .map_or(0, |a| a.state.transitioned_ms)
}

//! Alarm persistence in the metadata store: the `alarms` table (one record
//! per alarm name), `alarm_history` (kept after an alarm is deleted, keyed so
//! that key order is time order; `alarm_history_by_alarm` holds the same
//! items keyed by alarm name first) and `alarm_pending_actions` (notifications
//! owed for committed transitions) and `alarm_contributors` (the contributors
//! in ALARM of multi-time-series alarms). A state change, its history item
//! and its pending actions are written in one transaction, with the
//! contributor transitions of the same evaluation.

use crate::meta::{self, Table, Txn};
use crate::state::AppState;
use stratus_model::alarm::contributor::{self, ContributorRecord, ContributorRef};
use stratus_model::alarm::message::{self, Transition};
use stratus_model::alarm::record::{AlarmRecord, HistoryItemType, HistoryRecord, PendingAction};
use stratus_model::alarm::{StateValue, name_from_arn};
use stratus_model::{ApiError, Timestamp};

pub const ALARMS: Table = Table::new("alarms");
pub const HISTORY: Table = Table::new("alarm_history");
/// The same history items keyed by alarm name first (see [`add_history`]).
pub const HISTORY_BY_ALARM: Table = Table::new("alarm_history_by_alarm");
pub const PENDING: Table = Table::new("alarm_pending_actions");
/// Contributors in ALARM of multi-time-series alarms, keyed
/// `<alarm name>\u{1}<contributor id>` (see [`contributor_key`]).
pub const CONTRIBUTORS: Table = Table::new("alarm_contributors");

pub fn meta_error(e: meta::MetaError) -> ApiError {
    tracing::error!(error = %e, "alarm store failure");
    match e {
        // A full disk: nothing changed, and the store recovers by itself.
        e @ meta::MetaError::Unavailable(_) => ApiError::unavailable(e.to_string()),
        e => ApiError::internal(format!("Metadata store failure: {e}")),
    }
}

/// How long history items are kept (AWS keeps about two weeks).
pub const HISTORY_RETENTION_MS: i64 = 14 * 24 * 3_600_000;

/// Deletes history items older than the retention (and their per-alarm
/// index entries). Returns how many.
pub fn prune_history(state: &AppState, now: Timestamp) -> meta::Result<usize> {
    let cutoff = format!("{:015}", (now.millis() - HISTORY_RETENTION_MS).max(0));
    let old = state
        .meta
        .range::<HistoryRecord>(HISTORY, "", &cutoff, false, usize::MAX)?;
    if old.is_empty() {
        return Ok(0);
    }
    state.meta.transact(|tx| {
        for (k, h) in &old {
            tx.delete(HISTORY, k)?;
            tx.delete(HISTORY_BY_ALARM, &by_alarm_key(&h.alarm_name, k))?;
        }
        Ok(old.len())
    })
}

/// History keys sort by time, then by a random suffix (several items may
/// share a millisecond). Each item is also kept under
/// `<alarm name>\u{1}<history key>` in [`HISTORY_BY_ALARM`], so the history
/// of one alarm is a prefix scan however much other history there is.
pub fn add_history(tx: &mut Txn<'_>, item: &HistoryRecord) -> meta::Result<()> {
    let key = format!("{:015}-{}", item.timestamp_ms.max(0), uuid::Uuid::new_v4());
    tx.put(
        HISTORY_BY_ALARM,
        &by_alarm_key(&item.alarm_name, &key),
        item,
    )?;
    tx.put(HISTORY, &key, item)
}

/// Alarm names never hold control characters, so `\u{1}` ends the name.
const NAME_END: char = '\u{1}';
/// Present in [`HISTORY_BY_ALARM`] once items written before the index
/// existed have been indexed; sorts before every `<name>\u{1}` prefix.
const INDEXED_MARKER: &str = "\u{1}indexed";

fn by_alarm_key(alarm: &str, key: &str) -> String {
    format!("{alarm}{NAME_END}{key}")
}

/// Indexes history written by a version without [`HISTORY_BY_ALARM`], once.
fn ensure_history_index(state: &AppState) -> meta::Result<()> {
    if state
        .meta
        .get::<bool>(HISTORY_BY_ALARM, INDEXED_MARKER)?
        .is_some()
    {
        return Ok(());
    }
    state.meta.transact(|tx| {
        for (k, h) in tx.list::<HistoryRecord>(HISTORY)? {
            tx.put(HISTORY_BY_ALARM, &by_alarm_key(&h.alarm_name, &k), &h)?;
        }
        tx.put(HISTORY_BY_ALARM, INDEXED_MARKER, &true)
    })
}

/// Whether `key` has the shape [`add_history`] gives history keys (paging
/// tokens carry one; anything else is a forged token).
pub fn is_history_key(key: &str) -> bool {
    key.len() == 52
        && key.as_bytes()[..15].iter().all(u8::is_ascii_digit)
        && key.as_bytes()[15] == b'-'
        && uuid::Uuid::parse_str(&key[16..]).is_ok()
}

/// Which history items a [`scan_history`] reads.
#[derive(Debug, Clone, Default)]
pub struct HistoryScan<'a> {
    /// One alarm's items (a prefix scan of [`HISTORY_BY_ALARM`]).
    pub alarm: Option<&'a str>,
    /// Inclusive time bounds, in milliseconds.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Items strictly after this history key in scan order (a page token).
    pub after: Option<&'a str>,
    pub ascending: bool,
}

/// Up to `want` items in scan order that `keep` accepts, with their history
/// keys. Reads the table in bounded chunks from the key range the scan
/// allows, so it costs what it returns (plus what `keep` skips), not the
/// size of the whole history.
pub fn scan_history(
    state: &AppState,
    scan: &HistoryScan<'_>,
    want: usize,
    keep: impl Fn(&HistoryRecord) -> bool,
) -> meta::Result<Vec<(String, HistoryRecord)>> {
    const CHUNK: usize = 256;
    let (table, prefix) = match scan.alarm {
        Some(name) => {
            ensure_history_index(state)?;
            (HISTORY_BY_ALARM, format!("{name}{NAME_END}"))
        }
        None => (HISTORY, String::new()),
    };
    // History keys start with 15 digits; '~' sorts after every one of them.
    let mut lo = match scan.start_ms {
        Some(s) => format!("{prefix}{:015}", s.max(0)),
        None => prefix.clone(),
    };
    let mut hi = match scan.end_ms {
        Some(e) => format!("{prefix}{:015}", e.saturating_add(1).max(0)),
        None => format!("{prefix}~"),
    };
    // Ascending scans restart at the last key seen (inclusive) and skip it.
    let mut skip: Option<String> = None;
    if let Some(after) = scan.after {
        let a = format!("{prefix}{after}");
        if scan.ascending {
            if a > lo {
                lo = a.clone();
            }
            skip = Some(a);
        } else if a < hi {
            hi = a;
        }
    }
    let mut out = Vec::new();
    while out.len() < want {
        let chunk = state
            .meta
            .range::<HistoryRecord>(table, &lo, &hi, !scan.ascending, CHUNK)?;
        let exhausted = chunk.len() < CHUNK;
        let mut last = None;
        for (k, h) in chunk {
            if skip.as_deref() == Some(k.as_str()) {
                continue;
            }
            if keep(&h) && out.len() < want {
                out.push((k[prefix.len()..].to_string(), h));
            }
            last = Some(k);
        }
        match last {
            Some(k) if !exhausted => {
                if scan.ascending {
                    lo = k.clone();
                    skip = Some(k);
                } else {
                    hi = k;
                }
            }
            _ => break,
        }
    }
    Ok(out)
}

pub fn history(
    alarm: &AlarmRecord,
    now_ms: i64,
    item_type: HistoryItemType,
    summary: String,
    data: String,
) -> HistoryRecord {
    HistoryRecord {
        alarm_name: alarm.name.clone(),
        alarm_type: alarm.alarm_type(),
        timestamp_ms: now_ms,
        item_type,
        summary,
        data,
        contributor: None,
    }
}

/// The new state an evaluation or SetAlarmState asks for.
#[derive(Debug, Clone)]
pub struct Change {
    pub value: StateValue,
    pub reason: String,
    pub reason_data: Option<String>,
    /// Composite alarms: the children that triggered the change.
    pub triggering_children: Vec<(String, StateValue, Timestamp)>,
    /// Multi-time-series alarms: the contributors whose state changes,
    /// committed even when the alarm's own state does not.
    pub contributors: Vec<ContributorChange>,
}

/// One contributor's transition (ALARM ↔ OK).
#[derive(Debug, Clone)]
pub struct ContributorChange {
    pub contributor: ContributorRef,
    pub new: StateValue,
    pub reason: String,
}

/// The key of a contributor in [`CONTRIBUTORS`]: alarm name first, so one
/// alarm's contributors are a prefix scan.
pub fn contributor_key(alarm: &str, id: &str) -> String {
    format!("{alarm}{NAME_END}{id}")
}

/// The contributors in ALARM of alarm `name`, by id.
pub fn contributors(state: &AppState, name: &str) -> meta::Result<Vec<ContributorRecord>> {
    let lo = format!("{name}{NAME_END}");
    let hi = format!("{name}\u{2}");
    Ok(state
        .meta
        .range::<ContributorRecord>(CONTRIBUTORS, &lo, &hi, false, usize::MAX)?
        .into_iter()
        .map(|(_, c)| c)
        .collect())
}

/// Deletes every stored contributor of alarm `name` in `tx` (the alarm was
/// deleted or its query redefined). Reads the table through `tx`: it holds
/// only contributors in ALARM, and this runs on Delete/Put only.
pub fn clear_contributors(tx: &mut Txn<'_>, name: &str) -> meta::Result<()> {
    let prefix = format!("{name}{NAME_END}");
    let keys: Vec<String> = tx
        .list::<ContributorRecord>(CONTRIBUTORS)?
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with(&prefix))
        .collect();
    for k in keys {
        tx.delete(CONTRIBUTORS, &k)?;
    }
    Ok(())
}

/// The outcome of [`commit_change`] when the state changed.
#[derive(Debug, Clone)]
pub struct Committed {
    pub alarm: AlarmRecord,
    pub old: StateValue,
}

/// `{"version":"1.0","oldState":{...},"newState":{...}}` of a StateUpdate
/// item, keys in AWS's (recorded) order, which a `serde_json::Value` would
/// sort; `stateReasonData` is embedded as the alarm's own JSON text so its
/// keys keep their order too.
fn state_update_data(old: &AlarmRecord, new: &AlarmRecord) -> String {
    state_update_json(
        (old.state.value, &old.state.reason),
        (new.state.value, &new.state.reason),
        new.state.reason_data.as_deref(),
    )
}

/// The HistoryData of a StateUpdate or AlarmContributorStateUpdate item from
/// the old and new (state, reason), with `reason_data` embedded when it is
/// valid JSON.
fn state_update_json(
    (old, old_reason): (StateValue, &str),
    (new, new_reason): (StateValue, &str),
    reason_data: Option<&str>,
) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let reason_data = reason_data
        .filter(|d| serde_json::from_str::<serde_json::Value>(d).is_ok())
        .map(|d| format!(",\"stateReasonData\":{d}"))
        .unwrap_or_default();
    format!(
        "{{\"version\":\"1.0\",\"oldState\":{{\"stateValue\":{},\"stateReason\":{}}},\
         \"newState\":{{\"stateValue\":{},\"stateReason\":{}{reason_data}}}}}",
        q(old.as_str()),
        q(old_reason),
        q(new.as_str()),
        q(new_reason),
    )
}

/// Puts `alarm` in state `value` at `now` (a transition: both timestamps).
fn enter_state(
    alarm: &mut AlarmRecord,
    value: StateValue,
    reason: String,
    reason_data: Option<String>,
    now: Timestamp,
) {
    alarm.state.value = value;
    alarm.state.reason = reason;
    alarm.state.reason_data = reason_data;
    alarm.state.updated_ms = now.millis();
    alarm.state.transitioned_ms = now.millis();
}

/// Applies `change` to alarm `name` if it is a real change of state: new
/// state, a StateUpdate history item and (actions enabled) one pending action
/// per action ARN of the new state, all in one transaction. Returns `None`
/// when the alarm is gone or already in that state.
pub fn commit_change(
    state: &AppState,
    name: &str,
    change: Change,
    now: Timestamp,
) -> meta::Result<Option<Committed>> {
    commit_change_fenced(state, name, change, now, None)
}

/// [`commit_change`], first checking `fence` (refused with
/// `MetaError::Fenced`, committing nothing, once the lease moved on).
pub fn commit_change_fenced(
    state: &AppState,
    name: &str,
    change: Change,
    now: Timestamp,
    fence: Option<&Fence>,
) -> meta::Result<Option<Committed>> {
    let done = state.meta.transact(|tx| {
        if let Some(f) = fence {
            tx.fence(f.kind, f.id, &f.owner, f.epoch)?;
        }
        apply_change(state, tx, name, change, now)
    })?;
    if done.is_some() {
        state.alarm_changes.touch(name);
    }
    Ok(done)
}

/// Changes committed per transaction by [`commit_changes`]: one fsync per
/// batch instead of per alarm when a round moves many alarms at once (the
/// first round after creating or restarting with many alarms).
const CHANGES_PER_TRANSACTION: usize = 2_000;

/// [`commit_change`] for many alarms, in transactions of
/// [`CHANGES_PER_TRANSACTION`]; each alarm's change, history item and pending
/// actions still commit together. Returns the real transitions, in order.
/// For the scheduler: it does not touch [`AppState::alarm_changes`], the
/// caller puts the returned records into its view itself (so a round that
/// moves every alarm is not followed by re-reading every alarm).
/// A lease a transaction must still hold to commit (cluster mode's
/// alarm-shard fencing; see `stratus_cluster::shards`).
#[derive(Debug, Clone)]
pub struct Fence {
    pub kind: &'static str,
    pub id: i32,
    pub owner: String,
    pub epoch: i64,
}

impl Fence {
    /// The lease of `alarm`'s shard as this node holds it (cluster mode);
    /// `None` in single-node mode or when another node holds it.
    pub fn for_alarm(state: &AppState, alarm: &str) -> Option<Fence> {
        match state.alarm_ownership(alarm) {
            crate::state::AlarmOwnership::Shard { shard, epoch } => Some(Fence {
                kind: stratus_cluster::shards::LEASE_KIND,
                id: shard as i32,
                owner: state.node_id().unwrap_or_default().to_string(),
                epoch,
            }),
            _ => None,
        }
    }
}

pub fn commit_changes(
    state: &AppState,
    changes: Vec<(String, Change)>,
    now: Timestamp,
) -> meta::Result<Vec<Committed>> {
    commit_changes_fenced(state, changes, now, None)
}

/// [`commit_changes`], each transaction first checking `fence` (refused with
/// `MetaError::Fenced`, committing nothing, once the lease moved on).
pub fn commit_changes_fenced(
    state: &AppState,
    changes: Vec<(String, Change)>,
    now: Timestamp,
    fence: Option<&Fence>,
) -> meta::Result<Vec<Committed>> {
    let mut out = Vec::new();
    let mut changes = changes.into_iter().peekable();
    while changes.peek().is_some() {
        let batch: Vec<(String, Change)> = changes.by_ref().take(CHANGES_PER_TRANSACTION).collect();
        let done = state.meta.transact(|tx| {
            if let Some(f) = fence {
                tx.fence(f.kind, f.id, &f.owner, f.epoch)?;
            }
            let mut done = Vec::new();
            for (name, change) in batch {
                if let Some(c) = apply_change(state, tx, &name, change, now)? {
                    done.push(c);
                }
            }
            Ok(done)
        })?;
        out.extend(done);
    }
    Ok(out)
}

/// The body of [`commit_change`] inside transaction `tx`.
fn apply_change(
    state: &AppState,
    tx: &mut Txn<'_>,
    name: &str,
    change: Change,
    now: Timestamp,
) -> meta::Result<Option<Committed>> {
    let Some(mut alarm) = tx.get::<AlarmRecord>(ALARMS, name)? else {
        return Ok(None);
    };
    for c in &change.contributors {
        apply_contributor(state, tx, &alarm, c, now)?;
    }
    if alarm.state.value == change.value {
        // Contributors moved but the alarm stays: its reason (how many are
        // in ALARM) is updated without a transition, history or actions.
        if !change.contributors.is_empty() && alarm.state.reason != change.reason {
            alarm.state.reason = change.reason;
            alarm.state.reason_data = change.reason_data;
            alarm.state.updated_ms = now.millis();
            tx.put(ALARMS, name, &alarm)?;
        }
        return Ok(None);
    }
    let before = alarm.clone();
    let old = alarm.state.value;
    enter_state(
        &mut alarm,
        change.value,
        change.reason,
        change.reason_data,
        now,
    );
    tx.put(ALARMS, name, &alarm)?;
    add_history(
        tx,
        &history(
            &alarm,
            now.millis(),
            HistoryItemType::StateUpdate,
            format!(
                "Alarm updated from {} to {}",
                old.as_str(),
                change.value.as_str()
            ),
            state_update_data(&before, &alarm),
        ),
    )?;
    if alarm.actions_enabled {
        queue_actions(
            state,
            tx,
            &alarm,
            old,
            &change.triggering_children,
            None,
            now,
        )?;
    }
    Ok(Some(Committed { alarm, old }))
}

/// One contributor's transition inside `tx`: the stored record (kept only
/// while in ALARM), an `AlarmContributorStateUpdate` item and, actions
/// enabled, the notifications of its new state.
fn apply_contributor(
    state: &AppState,
    tx: &mut Txn<'_>,
    alarm: &AlarmRecord,
    c: &ContributorChange,
    now: Timestamp,
) -> meta::Result<()> {
    let key = contributor_key(&alarm.name, &c.contributor.id);
    let stored = tx.get::<ContributorRecord>(CONTRIBUTORS, &key)?;
    let old_reason = stored
        .as_ref()
        .map(|r| r.reason.clone())
        .unwrap_or_default();
    // The stored record is the truth about the old state: an evaluation
    // racing a redefinition must not repeat or invent a transition.
    let old = if stored.is_some() {
        StateValue::Alarm
    } else {
        StateValue::Ok
    };
    if old == c.new {
        return Ok(());
    }
    if c.new == StateValue::Alarm {
        tx.put(
            CONTRIBUTORS,
            &key,
            &ContributorRecord {
                alarm_name: alarm.name.clone(),
                contributor: c.contributor.clone(),
                reason: c.reason.clone(),
                transitioned_ms: now.millis(),
            },
        )?;
    } else {
        tx.delete(CONTRIBUTORS, &key)?;
    }
    let data = state_update_json((old, &old_reason), (c.new, &c.reason), None);
    let mut item = history(
        alarm,
        now.millis(),
        HistoryItemType::AlarmContributorStateUpdate,
        contributor::state_update_summary(old, c.new),
        data,
    );
    item.contributor = Some(c.contributor.clone());
    add_history(tx, &item)?;
    if alarm.actions_enabled {
        // The notification shows the contributor's state and reason.
        let mut seen = alarm.clone();
        enter_state(&mut seen, c.new, c.reason.clone(), None, now);
        queue_actions(state, tx, &seen, old, &[], Some(&c.contributor), now)?;
    }
    Ok(())
}

/// Stores a pending notification per SNS action of the alarm's (new) state;
/// other action kinds cannot be executed here and are recorded as failed.
/// `contributor`: the notifications are that contributor's.
fn queue_actions(
    state: &AppState,
    tx: &mut Txn<'_>,
    alarm: &AlarmRecord,
    old: StateValue,
    triggering_children: &[(String, StateValue, Timestamp)],
    contributor: Option<&ContributorRef>,
    now: Timestamp,
) -> meta::Result<()> {
    let actions = alarm.actions_for(alarm.state.value).to_vec();
    if actions.is_empty() {
        return Ok(());
    }
    let rendered = message::render(&Transition {
        alarm,
        old_state: old,
        account_id: crate::ACCOUNT_ID,
        public_url: &state.public_url,
        triggering_children: triggering_children.to_vec(),
        contributor,
    });
    let action_type = if contributor.is_some() {
        HistoryItemType::AlarmContributorAction
    } else {
        HistoryItemType::Action
    };
    for arn in actions {
        if !arn.starts_with("arn:aws:sns:") {
            let summary = format!(
                "Failed to execute action {arn}. Only SNS topic actions are supported by Stratus."
            );
            let data = action_data(
                &arn,
                "Failed",
                alarm.state.transitioned_ms,
                None,
                Some(&summary),
            );
            let mut item = history(alarm, now.millis(), action_type, summary, data);
            item.contributor = contributor.cloned();
            add_history(tx, &item)?;
            continue;
        }
        let pending = PendingAction {
            message_id: uuid::Uuid::new_v4().to_string(),
            alarm_name: alarm.name.clone(),
            alarm_type: alarm.alarm_type(),
            action_arn: arn,
            subject: rendered.subject.clone(),
            json_message: rendered.json_message.clone(),
            email_text: rendered.email_text.clone(),
            attempts: 0,
            next_attempt_ms: now.millis(),
            contributor: contributor.cloned(),
        };
        tx.put(PENDING, &pending.message_id, &pending)?;
    }
    Ok(())
}

/// HistoryData of an Action item, keys in the order AWS writes them (a
/// struct, as a `serde_json::Value` would sort them).
pub fn action_data(
    arn: &str,
    action_state: &str,
    state_update_ms: i64,
    message_id: Option<&str>,
    error: Option<&str>,
) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ActionData<'a> {
        action_state: &'a str,
        state_update_timestamp: i64,
        notification_resource: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        published_message: Option<MessageId<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct MessageId<'a> {
        #[serde(rename = "messageId")]
        message_id: &'a str,
    }
    serde_json::to_string(&ActionData {
        action_state,
        state_update_timestamp: state_update_ms,
        notification_resource: arn,
        published_message: message_id.map(|message_id| MessageId { message_id }),
        error,
    })
    .unwrap_or_default()
}

/// Resolves a name-or-ARN to an alarm name.
pub fn alarm_name_of(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") {
        name_from_arn(name_or_arn).unwrap_or(name_or_arn)
    } else {
        name_or_arn
    }
}

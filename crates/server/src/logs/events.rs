//! PutLogEvents (AWS's batch limits and rejected-event triage), GetLogEvents
//! (one stream, either direction, tokens), FilterLogEvents (filter patterns
//! across a group's streams, paged).

use super::{Cx, LogsRequest, out, store_error};
use std::time::{Duration, Instant};
use stratus_logs::pattern::FilterPattern;
use stratus_logs::store::{Cursor, NewEvent, Scan, StreamRead};
use stratus_model::ApiResult;
use stratus_model::logs::{self as m, *};
use stratus_proto::Document;

/// How long one FilterLogEvents call scans before answering with a token
/// (AWS also returns partial pages on long searches).
const FILTER_TIME_BUDGET: Duration = Duration::from_secs(5);

pub(super) fn put_log_events(
    cx: &Cx<'_>,
    input: PutLogEventsInput,
    req: LogsRequest,
) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let stream = validate_stream_name(input.log_stream_name.as_deref(), "logStreamName")?;
    let raw = input.log_events.ok_or_else(|| m::missing("logEvents"))?;
    if raw.is_empty() {
        return Err(constraint(
            "[]",
            "logEvents",
            "Member must have length greater than or equal to 1",
        ));
    }
    if raw.len() > MAX_BATCH_EVENTS {
        return Err(constraint(
            "[...]",
            "logEvents",
            &format!("Member must have length less than or equal to {MAX_BATCH_EVENTS}"),
        ));
    }
    let mut events = Vec::with_capacity(raw.len());
    let mut bytes = 0usize;
    for (i, e) in raw.into_iter().enumerate() {
        let timestamp = e
            .timestamp
            .ok_or_else(|| m::missing(&format!("logEvents.{}.member.timestamp", i + 1)))?;
        let message = e
            .message
            .ok_or_else(|| m::missing(&format!("logEvents.{}.member.message", i + 1)))?;
        if message.is_empty() {
            return Err(constraint(
                "",
                &format!("logEvents.{}.member.message", i + 1),
                "Member must have length greater than or equal to 1",
            ));
        }
        let size = message.len() + EVENT_OVERHEAD;
        if size > MAX_EVENT_BYTES {
            return Err(m::invalid(format!(
                "Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}"
            )));
        }
        bytes += size;
        events.push(NewEvent {
            timestamp_ms: timestamp,
            message,
        });
    }
    if bytes > MAX_BATCH_BYTES {
        return Err(m::invalid(format!(
            "Upload too large: {bytes} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    // AWS accepts a batch in any order and reports rejections by index into
    // the chronological order.
    events.sort_by_key(|e| e.timestamp_ms);
    // Fail before writing when the group or stream is missing.
    let retention_days = cx
        .rt
        .store
        .retention_for_append(&group, &stream)
        .map_err(store_error)?;
    let timestamps: Vec<i64> = events.iter().map(|e| e.timestamp_ms).collect();
    let triage = m::triage(&timestamps, super::now_ms(), retention_days);
    // The 24-hour span counts the valid events only (AWS's wording).
    if let (Some(first), Some(last)) = (
        timestamps.get(triage.accepted.start),
        triage
            .accepted
            .end
            .checked_sub(1)
            .and_then(|i| timestamps.get(i)),
    ) && last - first > MAX_BATCH_SPAN_MS
    {
        return Err(m::invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
        ));
    }
    let accepted: Vec<NewEvent> = events.drain(triage.accepted.clone()).collect();
    if !accepted.is_empty() {
        super::filters::append_and_emit(cx, &group, &stream, accepted, req)?;
    }
    out(&PutLogEventsOutput {
        next_sequence_token: "1".into(),
        rejected_log_events_info: triage.rejected,
    })
}

fn time_range(start: Option<i64>, end: Option<i64>) -> ApiResult<()> {
    if let Some(s) = start
        && s < 0
    {
        return Err(constraint(
            &s.to_string(),
            "startTime",
            "Member must have value greater than or equal to 0",
        ));
    }
    if let Some(e) = end
        && e < 0
    {
        return Err(constraint(
            &e.to_string(),
            "endTime",
            "Member must have value greater than or equal to 0",
        ));
    }
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(m::invalid(format!(
            "endTime ({e}) must not be before startTime ({s})."
        )));
    }
    Ok(())
}

fn events_limit(limit: Option<i64>) -> ApiResult<usize> {
    page_limit(limit, MAX_EVENTS_LIMIT)
}

pub(super) fn get_log_events(cx: &Cx<'_>, input: GetLogEventsInput) -> ApiResult<Document> {
    let group = resolve_group(
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    let stream = validate_stream_name(input.log_stream_name.as_deref(), "logStreamName")?;
    time_range(input.start_time, input.end_time)?;
    let limit = events_limit(input.limit)?;
    // A token carries its direction: `f/…` continues forward, `b/…` backward.
    let (forward, cursor) = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
        None => (input.start_from_head.unwrap_or(false), None),
        Some(t) => {
            let (dir, body) = t.split_at_checked(2).ok_or_else(m::bad_token)?;
            let forward = match dir {
                "f/" => true,
                "b/" => false,
                _ => return Err(m::bad_token()),
            };
            (
                forward,
                Some(Cursor::from_token(body).ok_or_else(m::bad_token)?),
            )
        }
    };
    let q = StreamRead {
        start_ms: input.start_time,
        end_ms: input.end_time,
        cursor,
        forward,
        limit,
        max_bytes: MAX_PAGE_BYTES,
    };
    let page = cx
        .rt
        .store
        .read_stream(&group, &stream, &q)
        .map_err(store_error)?;
    out(&GetLogEventsOutput {
        events: page
            .events
            .into_iter()
            .map(|e| OutputLogEvent {
                timestamp: e.timestamp_ms,
                message: e.message,
                ingestion_time: e.ingestion_ms,
            })
            .collect(),
        next_forward_token: format!("f/{}", page.next_forward.to_token()),
        next_backward_token: format!("b/{}", page.next_backward.to_token()),
    })
}

pub(super) fn filter_log_events(cx: &Cx<'_>, input: FilterLogEventsInput) -> ApiResult<Document> {
    let group = resolve_group(
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    if input.log_stream_names.is_some() && input.log_stream_name_prefix.is_some() {
        return Err(m::invalid(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    if let Some(names) = &input.log_stream_names
        && (names.is_empty() || names.len() > 100)
    {
        return Err(constraint(
            "[...]",
            "logStreamNames",
            "Member must have length less than or equal to 100 and greater than or equal to 1",
        ));
    }
    time_range(input.start_time, input.end_time)?;
    let limit = events_limit(input.limit)?;
    let pattern = match input.filter_pattern.as_deref() {
        None => None,
        Some(p) => Some(
            FilterPattern::parse(p)
                .map_err(|e| m::invalid(format!("Invalid filter pattern: {e}")))?,
        ),
    };
    // A token carries its direction: a store cursor continues forward; `d/`
    // (newest first) is the (timestamp, event id) every later page stays below.
    let token = input.next_token.as_deref().filter(|t| !t.is_empty());
    let newest_first = match token {
        Some(t) => t.starts_with("d/"),
        None => !input.start_from_head.unwrap_or(true),
    };
    if newest_first
        && token.is_none()
        && input
            .start_time
            .is_some_and(|s| s < START_FROM_TAIL_EARLIEST_MS)
    {
        return Err(m::invalid(
            "startFromHead=false is supported only when startTime is on or after Jan 1, 2024 00:00:00 UTC.",
        ));
    }
    let streams = cx.rt.store.streams(&group).map_err(store_error)?;
    if let Some(names) = &input.log_stream_names
        && !names.iter().all(|n| streams.iter().any(|s| &s.name == n))
    {
        return Err(m::stream_not_found());
    }
    let mut q = Scan {
        streams: input.log_stream_names.clone(),
        stream_prefix: input.log_stream_name_prefix.clone(),
        start_ms: input.start_time,
        // FilterLogEvents' endTime is inclusive ("later than this time are
        // not returned"); the store's end is exclusive.
        end_ms: input.end_time.map(|e| e.saturating_add(1)),
        after: None,
    };
    let keep =
        |ev: &stratus_logs::EventRef<'_>| pattern.as_ref().is_none_or(|p| p.matches(ev.message));
    let (events, next_token) = if newest_first {
        let below = match token {
            None => None,
            Some(t) => Some(parse_below(t).ok_or_else(m::bad_token)?),
        };
        if let Some((ts, _)) = below {
            q.end_ms = Some(q.end_ms.map_or(ts + 1, |e| e.min(ts + 1)));
        }
        newest_page(cx, &group, &q, below, limit, &keep)?
    } else {
        q.after = match token {
            None => None,
            Some(t) => Some(Cursor::from_token(t).ok_or_else(m::bad_token)?),
        };
        oldest_page(cx, &group, &q, limit, &keep)?
    };
    out(&FilterLogEventsOutput {
        events,
        // AWS stopped filling this in 2020 and always answers an empty list.
        searched_log_streams: Vec::new(),
        next_token,
    })
}

/// `startFromHead=false` needs a startTime on or after 2024-01-01 (AWS).
const START_FROM_TAIL_EARLIEST_MS: i64 = 1_704_067_200_000;

fn filtered(ev: &stratus_logs::EventRef<'_>, id: stratus_logs::store::EventId) -> FilteredLogEvent {
    FilteredLogEvent {
        log_stream_name: ev.stream.to_owned(),
        timestamp: ev.timestamp_ms,
        message: ev.message.to_owned(),
        ingestion_time: ev.ingestion_ms,
        event_id: id.to_string(),
    }
}

/// Oldest first: the store's scan order, resumable by its cursor.
fn oldest_page(
    cx: &Cx<'_>,
    group: &str,
    q: &Scan,
    limit: usize,
    keep: &dyn Fn(&stratus_logs::EventRef<'_>) -> bool,
) -> ApiResult<(Vec<FilteredLogEvent>, Option<String>)> {
    let started = Instant::now();
    let mut events = Vec::new();
    let mut bytes = 0usize;
    let mut checked = 0u32;
    let end = cx
        .rt
        .store
        .scan(group, q, &mut |ev, id| {
            // Every event handed over is consumed (the resume point is right
            // after it), so the page-full check comes after taking it.
            if keep(ev) {
                bytes += ev.message.len() + EVENT_OVERHEAD;
                events.push(filtered(ev, id));
            }
            checked = checked.wrapping_add(1);
            // Checking the clock every 4,096 events keeps it off the hot path.
            let out_of_time =
                checked.is_multiple_of(4096) && started.elapsed() > FILTER_TIME_BUDGET;
            !(events.len() >= limit || bytes >= MAX_PAGE_BYTES || out_of_time)
        })
        .map_err(store_error)?;
    Ok((events, end.resume.map(|c| c.to_token())))
}

/// Newest first: the range is scanned forward keeping the newest `limit`
/// matches below the token's (timestamp, id); the next page stays below the
/// oldest of them. Each page costs a scan of the range below it.
fn newest_page(
    cx: &Cx<'_>,
    group: &str,
    q: &Scan,
    below: Option<(i64, u64)>,
    limit: usize,
    keep: &dyn Fn(&stratus_logs::EventRef<'_>) -> bool,
) -> ApiResult<(Vec<FilteredLogEvent>, Option<String>)> {
    let mut window: std::collections::VecDeque<(FilteredLogEvent, u64)> =
        std::collections::VecDeque::new();
    let mut more = false;
    cx.rt
        .store
        .scan(group, q, &mut |ev, id| {
            if below.is_none_or(|b| (ev.timestamp_ms, id.0) < b) && keep(ev) {
                if window.len() == limit {
                    window.pop_front();
                    more = true;
                }
                window.push_back((filtered(ev, id), id.0));
            }
            true
        })
        .map_err(store_error)?;
    let next = more
        .then(|| {
            window
                .front()
                .map(|(e, id)| format!("d/{}/{id}", e.timestamp))
        })
        .flatten();
    Ok((window.into_iter().rev().map(|(e, _)| e).collect(), next))
}

fn parse_below(token: &str) -> Option<(i64, u64)> {
    let (ts, id) = token.strip_prefix("d/")?.split_once('/')?;
    Some((ts.parse().ok()?, id.parse().ok()?))
}

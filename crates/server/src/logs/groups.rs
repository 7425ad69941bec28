//! Log groups and streams: create, delete, describe (prefixes, patterns,
//! ordering, paging), retention and tags.

use super::{Cx, out, store_error};
use base64::Engine as _;
use std::collections::BTreeMap;
use stratus_logs::store::{GroupInfo, GroupSpec, StreamInfo};
use stratus_model::logs::{self as m, *};
use stratus_model::{ApiError, ApiResult, ErrorCode};
use stratus_proto::Document;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A paging token: the last name returned, so a page resumes after it even
/// when groups are created or deleted in between.
pub(super) fn name_token(kind: &str, last: &str) -> String {
    format!("{kind}.{}", B64.encode(last))
}

pub(super) fn parse_name_token(kind: &str, token: Option<&str>) -> ApiResult<Option<String>> {
    let Some(t) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let body = t
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('.'))
        .ok_or_else(m::bad_token)?;
    let bytes = B64.decode(body).map_err(|_| m::bad_token())?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| m::bad_token())
}

fn check_class(class: Option<&str>) -> ApiResult<String> {
    match class {
        None => Ok("STANDARD".into()),
        Some(c @ ("STANDARD" | "INFREQUENT_ACCESS" | "DELIVERY")) => Ok(c.into()),
        Some(c) => Err(constraint(
            c,
            "logGroupClass",
            "Member must satisfy enum value set: [DELIVERY, STANDARD, INFREQUENT_ACCESS]",
        )),
    }
}

pub(super) fn create_group(cx: &Cx<'_>, input: CreateLogGroupInput) -> ApiResult<Document> {
    let name = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let class = check_class(input.log_group_class.as_deref())?;
    let tags = input.tags.unwrap_or_default();
    validate_tags(&tags)?;
    let spec = GroupSpec {
        created_ms: super::now_ms(),
        retention_days: None,
        tags,
        class,
        kms_key_id: input.kms_key_id,
    };
    cx.rt.store.create_group(&name, spec).map_err(store_error)?;
    out(&Document::Null)
}

pub(super) fn delete_group(cx: &Cx<'_>, input: LogGroupNameInput) -> ApiResult<Document> {
    let name = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    cx.rt.store.delete_group(&name).map_err(store_error)?;
    cx.rt.filters.forget(&name);
    Ok(Document::Null)
}

fn group_shape(cx: &Cx<'_>, g: &GroupInfo, brief: bool) -> LogGroupShape {
    let arn = cx.group_arn(&g.name);
    let full = |v| (!brief).then_some(v);
    LogGroupShape {
        log_group_name: g.name.clone(),
        creation_time: g.created_ms,
        retention_in_days: g.retention_days.filter(|_| !brief),
        metric_filter_count: full(g.metric_filters.len()),
        arn: format!("{arn}:*"),
        stored_bytes: (!brief).then_some(g.stored_bytes),
        kms_key_id: g.kms_key_id.clone().filter(|_| !brief),
        log_group_class: (!brief).then(|| g.class.clone()),
        log_group_arn: (!brief).then_some(arn),
    }
}

pub(super) fn describe_groups(cx: &Cx<'_>, input: DescribeLogGroupsInput) -> ApiResult<Document> {
    if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
        return Err(m::invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let limit = page_limit(input.limit, MAX_DESCRIBE_LIMIT)?;
    let after = parse_name_token("g", input.next_token.as_deref())?;
    let class = input
        .log_group_class
        .as_deref()
        .map(|c| check_class(Some(c)))
        .transpose()?;
    let identifiers: Option<Vec<String>> = input.log_group_identifiers.map(|ids| {
        ids.iter()
            .map(|id| group_name_from_arn(id).unwrap_or(id).to_owned())
            .collect()
    });
    // AWS's pattern matches a case-sensitive substring of the name.
    let pattern = input.log_group_name_pattern;
    let brief = pattern.is_some();
    let mut groups: Vec<LogGroupShape> = Vec::new();
    let mut next_token = None;
    for g in cx.rt.store.groups() {
        if after.as_deref().is_some_and(|a| g.name.as_str() <= a) {
            continue;
        }
        if let Some(p) = &input.log_group_name_prefix
            && !g.name.starts_with(p.as_str())
        {
            continue;
        }
        if let Some(p) = &pattern
            && !g.name.contains(p.as_str())
        {
            continue;
        }
        if class.as_deref().is_some_and(|c| c != g.class) {
            continue;
        }
        if identifiers
            .as_ref()
            .is_some_and(|ids| !ids.contains(&g.name))
        {
            continue;
        }
        if groups.len() == limit {
            next_token = groups.last().map(|l| name_token("g", &l.log_group_name));
            break;
        }
        groups.push(group_shape(cx, &g, brief));
    }
    out(&DescribeLogGroupsOutput {
        log_groups: groups,
        next_token,
    })
}

pub(super) fn create_stream(cx: &Cx<'_>, input: LogStreamInput) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let stream = validate_stream_name(input.log_stream_name.as_deref(), "logStreamName")?;
    cx.rt
        .store
        .create_stream(&group, &stream, super::now_ms())
        .map_err(store_error)?;
    Ok(Document::Null)
}

pub(super) fn delete_stream(cx: &Cx<'_>, input: LogStreamInput) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let stream = validate_stream_name(input.log_stream_name.as_deref(), "logStreamName")?;
    cx.rt
        .store
        .delete_stream(&group, &stream)
        .map_err(store_error)?;
    Ok(Document::Null)
}

fn stream_shape(cx: &Cx<'_>, group: &str, s: &StreamInfo) -> LogStreamShape {
    LogStreamShape {
        log_stream_name: s.name.clone(),
        creation_time: s.created_ms,
        first_event_timestamp: s.first_event_ms,
        last_event_timestamp: s.last_event_ms,
        last_ingestion_time: s.last_ingestion_ms,
        // AWS ignores sequence tokens now but still returns one.
        upload_sequence_token: "1".into(),
        arn: m::stream_arn(cx.region, crate::ACCOUNT_ID, group, &s.name),
        stored_bytes: s.stored_bytes,
    }
}

pub(super) fn describe_streams(cx: &Cx<'_>, input: DescribeLogStreamsInput) -> ApiResult<Document> {
    let group = resolve_group(
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    let limit = page_limit(input.limit, MAX_DESCRIBE_LIMIT)?;
    let by_time = match input.order_by.as_deref() {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(o) => {
            return Err(constraint(
                o,
                "orderBy",
                "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
            ));
        }
    };
    if by_time && input.log_stream_name_prefix.is_some() {
        return Err(m::invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let descending = input.descending.unwrap_or(false);
    let mut streams = cx.rt.store.streams(&group).map_err(store_error)?;
    if let Some(p) = &input.log_stream_name_prefix {
        streams.retain(|s| s.name.starts_with(p.as_str()));
    }
    // A stable total order for each ordering, so a page token (the position
    // key of the last stream returned) resumes exactly.
    let key = |s: &StreamInfo| -> String {
        if by_time {
            format!("{:020}/{}", s.last_event_ms.unwrap_or(0).max(0), s.name)
        } else {
            s.name.clone()
        }
    };
    streams.sort_by_key(key);
    if descending {
        streams.reverse();
    }
    let after = parse_name_token("s", input.next_token.as_deref())?;
    let start = match &after {
        None => 0,
        Some(a) => streams
            .iter()
            .position(|s| {
                let k = key(s);
                if descending {
                    k.as_str() < a.as_str()
                } else {
                    k.as_str() > a.as_str()
                }
            })
            .unwrap_or(streams.len()),
    };
    let page: Vec<&StreamInfo> = streams[start..].iter().take(limit).collect();
    let next_token = (start + page.len() < streams.len())
        .then(|| page.last().map(|s| name_token("s", &key(s))))
        .flatten();
    out(&DescribeLogStreamsOutput {
        log_streams: page.iter().map(|s| stream_shape(cx, &group, s)).collect(),
        next_token,
    })
}

pub(super) fn put_retention(cx: &Cx<'_>, input: PutRetentionPolicyInput) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let days = validate_retention(input.retention_in_days)?;
    cx.rt
        .store
        .set_retention(&group, Some(days))
        .map_err(store_error)?;
    Ok(Document::Null)
}

pub(super) fn delete_retention(cx: &Cx<'_>, input: LogGroupNameInput) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    cx.rt
        .store
        .set_retention(&group, None)
        .map_err(store_error)?;
    Ok(Document::Null)
}

fn set_tags(cx: &Cx<'_>, group: &str, tags: BTreeMap<String, String>) -> ApiResult<()> {
    validate_tags(&tags)?;
    let current = cx.rt.store.group(group).ok_or_else(m::group_not_found)?;
    let mut merged = current.tags.clone();
    merged.extend(tags.clone());
    if merged.len() > MAX_TAGS {
        return Err(ApiError::new(
            ErrorCode::LimitExceededException,
            format!("A log group can have at most {MAX_TAGS} tags."),
        ));
    }
    let set: Vec<(String, String)> = tags.into_iter().collect();
    cx.rt.store.tag_group(group, &set, &[]).map_err(store_error)
}

fn remove_tags(cx: &Cx<'_>, group: &str, keys: &[String]) -> ApiResult<()> {
    cx.rt.store.tag_group(group, &[], keys).map_err(store_error)
}

fn group_tags(cx: &Cx<'_>, group: &str) -> ApiResult<Document> {
    let g = cx.rt.store.group(group).ok_or_else(m::group_not_found)?;
    out(&TagsOutput { tags: g.tags })
}

pub(super) fn tag_log_group(cx: &Cx<'_>, input: TagLogGroupInput) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let tags = input.tags.ok_or_else(|| m::missing("tags"))?;
    set_tags(cx, &group, tags)?;
    Ok(Document::Null)
}

pub(super) fn untag_log_group(cx: &Cx<'_>, input: UntagLogGroupInput) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    let keys = input.tags.ok_or_else(|| m::missing("tags"))?;
    remove_tags(cx, &group, &keys)?;
    Ok(Document::Null)
}

pub(super) fn list_tags_log_group(cx: &Cx<'_>, input: LogGroupNameInput) -> ApiResult<Document> {
    let group = validate_group_name(input.log_group_name.as_deref(), "logGroupName")?;
    group_tags(cx, &group)
}

/// The group a tagging ARN names (log groups are the taggable resource here).
fn arn_group(arn: Option<&str>) -> ApiResult<String> {
    let arn = arn.ok_or_else(|| m::missing("resourceArn"))?;
    let name = group_name_from_arn(arn).ok_or_else(|| {
        m::invalid(format!(
            "The specified resource ARN {arn} is not a valid log group ARN."
        ))
    })?;
    Ok(name.to_owned())
}

pub(super) fn tag_resource(cx: &Cx<'_>, input: TagResourceInput) -> ApiResult<Document> {
    let group = arn_group(input.resource_arn.as_deref())?;
    let tags = input.tags.ok_or_else(|| m::missing("tags"))?;
    set_tags(cx, &group, tags)?;
    Ok(Document::Null)
}

pub(super) fn untag_resource(cx: &Cx<'_>, input: UntagResourceInput) -> ApiResult<Document> {
    let group = arn_group(input.resource_arn.as_deref())?;
    let keys = input.tag_keys.ok_or_else(|| m::missing("tagKeys"))?;
    remove_tags(cx, &group, &keys)?;
    Ok(Document::Null)
}

pub(super) fn list_tags_for_resource(cx: &Cx<'_>, input: ResourceArnInput) -> ApiResult<Document> {
    let group = arn_group(input.resource_arn.as_deref())?;
    group_tags(cx, &group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let t = name_token("g", "/app/x");
        assert_eq!(
            parse_name_token("g", Some(&t)).unwrap().as_deref(),
            Some("/app/x")
        );
        assert!(parse_name_token("s", Some(&t)).is_err());
        assert!(parse_name_token("g", Some("g.!!!")).is_err());
        assert_eq!(parse_name_token("g", None).unwrap(), None);
    }
}

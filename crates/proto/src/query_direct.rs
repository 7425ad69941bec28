//! The awsQuery twin of [`crate::decode_json_direct`]: a PutMetricData form
//! read straight into [`PutMetricDataInput`], in one pass over the pairs.
//!
//! The general path (`decode_form` → `QueryTree` → [`Document`] →
//! `from_document`) allocates a string per key segment and value and builds
//! two trees; for the CloudWatch agent's ~50-datum bodies that was a fifth of
//! the server's CPU per datapoint. Here keys stay borrowed from the body,
//! numbers are parsed from the borrowed value, and only the strings the input
//! keeps are allocated.
//!
//! The contract is the JSON fast path's: `None` for anything this decoder
//! does not recognise (another action or service, an unknown or repeated
//! key, a value `from_document` would refuse, entities), so that the general
//! path answers and words the error; `Some` only with the very input the
//! general path would yield. The fuzz target `decode_query` checks that.
//!
//! [`Document`]: crate::Document

use crate::de::leaf;
use crate::query::member_index;
use crate::route::{CLOUDWATCH_VERSION, Protocol, RequestHead, Service, check_scope, sniff};
use std::borrow::Cow;
use std::collections::BTreeMap;
use stratus_model::Dimension;
use stratus_model::ops::put_metric_data::{
    MetricDatumInput, PutMetricDataInput, StatisticSetInput,
};

/// The input of an awsQuery CloudWatch `PutMetricData` request, decoded
/// without the [`crate::Document`] tree; `None` leaves the request to
/// [`crate::decode_request`]. `body` must already be inflated. Routing is
/// `decode_request`'s: parameters from the URL query string and then the
/// body (not the body for a GET or an empty body; a later `Action` or
/// `Version` wins), `Version` absent or CloudWatch's, a SigV4 scope absent
/// or `monitoring`.
pub fn decode_query_put_metric_data(
    head: &RequestHead<'_>,
    body: &[u8],
) -> Option<PutMetricDataInput> {
    if sniff(head) != Protocol::Query || check_scope(head, Service::CloudWatch).is_err() {
        return None;
    }
    let body: &[u8] = if head.method.eq_ignore_ascii_case("GET") {
        b""
    } else {
        body
    };
    let mut form = Form::default();
    for source in [head.query.as_bytes(), body] {
        for (key, value) in form_pairs(source) {
            form.pair(&key, value)?;
        }
    }
    let version_ok = match form.version.as_deref() {
        None => true,
        Some(version) => version == CLOUDWATCH_VERSION,
    };
    (form.action.as_deref() == Some("PutMetricData") && version_ok).then(|| form.input.finish())
}

/// The pairs `form_urlencoded::parse` yields, the same `Cow`s, but a pair
/// with nothing escaped (no `%` or `+`: every key of the agent's forms, most
/// values) is split and borrowed without its byte-by-byte decoding, which
/// was most of this decoder's time. Anything escaped goes through
/// `form_urlencoded` itself.
fn form_pairs(source: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    let mut rest = source;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let end = memchr::memchr(b'&', rest).unwrap_or(rest.len());
            let piece = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            if piece.is_empty() {
                continue;
            }
            let (key, value) = match memchr::memchr(b'=', piece) {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &[][..]),
            };
            return match (unescaped(key), unescaped(value)) {
                (Some(k), Some(v)) => Some((Cow::Borrowed(k), Cow::Borrowed(v))),
                // A value without `=` parses as a lone name: decoded alone.
                (Some(k), None) if memchr::memchr(b'=', value).is_none() => {
                    let (v, _) = form_urlencoded::parse(value).next()?;
                    Some((Cow::Borrowed(k), v))
                }
                _ => form_urlencoded::parse(piece).next(),
            };
        }
    })
}

/// `bytes` as text when form decoding leaves them as they are.
fn unescaped(bytes: &[u8]) -> Option<&str> {
    if memchr::memchr2(b'%', b'+', bytes).is_some() {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

#[derive(Default)]
struct Form<'a> {
    action: Option<Cow<'a, str>>,
    version: Option<Cow<'a, str>>,
    input: InputBuilder,
}

impl<'a> Form<'a> {
    /// Takes one pair; `None` declines the whole request.
    fn pair(&mut self, key: &str, value: Cow<'a, str>) -> Option<()> {
        match key {
            // Routing parameters: a later duplicate wins, as in `decode_form`.
            "Action" => self.action = Some(value),
            "Version" => self.version = Some(value),
            _ => self.input.pair(key, value)?,
        }
        Some(())
    }
}

/// Sets a member once: a repeated key declines (the general path would let
/// the later one win; the agent never repeats one).
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// `X=` where `X` is a list or structure: the query protocol's empty
/// container (the agent sends `MetricData=` and `Values=`). It only makes
/// `X` exist, as in the general path; any other value there declines.
fn empty_container(value: &str) -> Option<()> {
    value.is_empty().then_some(())
}

/// `N` or `N.rest` after `…member.` → (N, rest).
fn split_index(rest: &str) -> Option<(u32, Option<&str>)> {
    match rest.split_once('.') {
        Some((index, field)) => Some((member_index(index)?, Some(field))),
        None => Some((member_index(rest)?, None)),
    }
}

#[derive(Default)]
struct InputBuilder {
    namespace: Option<String>,
    strict_entity_validation: Option<bool>,
    metric_data: Members<DatumBuilder>,
}

impl InputBuilder {
    /// One pair other than `Action`/`Version`; strings are moved out of
    /// `value` (owned only when the form escaped something).
    fn pair(&mut self, key: &str, value: Cow<'_, str>) -> Option<()> {
        match key {
            "Namespace" => set_once(&mut self.namespace, value.into_owned()),
            "StrictEntityValidation" => {
                set_once(&mut self.strict_entity_validation, leaf::bool(&value)?)
            }
            "MetricData" => empty_container(&value),
            _ => {
                let (index, field) = split_index(key.strip_prefix("MetricData.member.")?)?;
                let datum = self.metric_data.slot(index);
                match field {
                    None => empty_container(&value),
                    Some(field) => datum.pair(field, value),
                }
            }
        }
    }

    fn finish(self) -> PutMetricDataInput {
        PutMetricDataInput {
            namespace: self.namespace,
            metric_data: self
                .metric_data
                .into_values()
                .map(DatumBuilder::finish)
                .collect(),
            entity_metric_data: Vec::new(),
            strict_entity_validation: self.strict_entity_validation,
        }
    }
}

#[derive(Default)]
struct DatumBuilder {
    datum: MetricDatumInput,
    dimensions: Members<DimensionBuilder>,
    values: Members<Option<f64>>,
    counts: Members<Option<f64>>,
}

impl DatumBuilder {
    /// One `MetricData.member.N.<field>` pair.
    fn pair(&mut self, field: &str, value: Cow<'_, str>) -> Option<()> {
        let d = &mut self.datum;
        match field {
            "MetricName" => set_once(&mut d.metric_name, value.into_owned()),
            "Value" => set_once(&mut d.value, leaf::f64(&value)?),
            "Timestamp" => set_once(&mut d.timestamp, leaf::timestamp(&value)?),
            "Unit" => set_once(&mut d.unit, value.into_owned()),
            "StorageResolution" => set_once(&mut d.storage_resolution, leaf::i64(&value)?),
            "Dimensions" | "Values" | "Counts" => empty_container(&value),
            "StatisticValues" => {
                empty_container(&value)?;
                d.statistic_values.get_or_insert_default();
                Some(())
            }
            _ => {
                if let Some(rest) = field.strip_prefix("Dimensions.member.") {
                    let (index, member) = split_index(rest)?;
                    let dimension = self.dimensions.slot(index);
                    match member {
                        None => empty_container(&value),
                        Some("Name") => set_once(&mut dimension.name, value.into_owned()),
                        Some("Value") => set_once(&mut dimension.value, value.into_owned()),
                        Some(_) => None,
                    }
                } else if let Some(index) = field.strip_prefix("Values.member.") {
                    let v = leaf::f64(&value)?;
                    set_once(self.values.slot(member_index(index)?), v)
                } else if let Some(index) = field.strip_prefix("Counts.member.") {
                    let v = leaf::f64(&value)?;
                    set_once(self.counts.slot(member_index(index)?), v)
                } else if let Some(stat) = field.strip_prefix("StatisticValues.") {
                    let set = d.statistic_values.get_or_insert_default();
                    let slot = statistic(set, stat)?;
                    set_once(slot, leaf::f64(&value)?)
                } else {
                    None
                }
            }
        }
    }

    fn finish(self) -> MetricDatumInput {
        MetricDatumInput {
            dimensions: self
                .dimensions
                .into_values()
                .map(DimensionBuilder::finish)
                .collect(),
            // Every slot was set when it was made.
            values: self.values.into_values().flatten().collect(),
            counts: self.counts.into_values().flatten().collect(),
            ..self.datum
        }
    }
}

fn statistic<'s>(set: &'s mut StatisticSetInput, name: &str) -> Option<&'s mut Option<f64>> {
    match name {
        "SampleCount" => Some(&mut set.sample_count),
        "Sum" => Some(&mut set.sum),
        "Minimum" => Some(&mut set.minimum),
        "Maximum" => Some(&mut set.maximum),
        _ => None,
    }
}

/// A dimension's members; both default to `""` like [`Dimension`]'s serde
/// defaults, but a repeated one is still noticed.
#[derive(Default)]
struct DimensionBuilder {
    name: Option<String>,
    value: Option<String>,
}

impl DimensionBuilder {
    fn finish(self) -> Dimension {
        Dimension {
            name: self.name.unwrap_or_default(),
            value: self.value.unwrap_or_default(),
        }
    }
}

/// The members of one `X.member.N` list, ordered by `N` (gaps allowed).
/// Clients send indices in order, so a sorted `Vec` that is appended to is
/// the common case; a new index below the last one turns it into a map once
/// (inserting into the middle of a `Vec` again and again would be quadratic).
enum Members<T> {
    Ordered(Vec<(u32, T)>),
    Sparse(BTreeMap<u32, T>),
}

impl<T> Default for Members<T> {
    fn default() -> Self {
        Members::Ordered(Vec::new())
    }
}

impl<T: Default> Members<T> {
    /// The member at `index`, made (default) if new.
    fn slot(&mut self, index: u32) -> &mut T {
        if let Members::Ordered(items) = self
            && items.last().is_some_and(|&(last, _)| index < last)
            && items.binary_search_by_key(&index, |&(i, _)| i).is_err()
        {
            let map = std::mem::take(items).into_iter().collect();
            *self = Members::Sparse(map);
        }
        match self {
            Members::Ordered(items) => {
                let at = match items.last() {
                    Some(&(last, _)) if last == index => items.len() - 1,
                    // Found: the check above made a map of any other case
                    // (inserting stays correct, only slower).
                    Some(&(last, _)) if index < last => {
                        match items.binary_search_by_key(&index, |&(i, _)| i) {
                            Ok(at) => at,
                            Err(at) => {
                                items.insert(at, (index, T::default()));
                                at
                            }
                        }
                    }
                    _ => {
                        items.push((index, T::default()));
                        items.len() - 1
                    }
                };
                &mut items[at].1
            }
            Members::Sparse(map) => map.entry(index).or_default(),
        }
    }
}

impl<T> Members<T> {
    /// The members in index order.
    fn into_values(self) -> impl Iterator<Item = T> {
        let (ordered, sparse) = match self {
            Members::Ordered(items) => (items, BTreeMap::new()),
            Members::Sparse(map) => (Vec::new(), map),
        };
        ordered
            .into_iter()
            .map(|(_, item)| item)
            .chain(sparse.into_values())
    }
}

#[cfg(test)]
mod tests {
    use super::form_pairs;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        /// The splitter yields exactly `form_urlencoded::parse`'s pairs.
        #[test]
        fn form_pairs_are_form_urlencodeds(
            bytes in prop::collection::vec(
                prop_oneof![
                    prop::sample::select(b"&=%+.aZ09".to_vec()),
                    any::<u8>(),
                ],
                0..48,
            )
        ) {
            let ours: Vec<_> = form_pairs(&bytes).collect();
            let theirs: Vec<_> = form_urlencoded::parse(&bytes).collect();
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn plain_pairs_are_borrowed() {
        let pairs: Vec<_> = form_pairs(b"&a.b=1&&c&d=%2F&e=x=y&f+=2").collect();
        let owned: Vec<bool> = pairs
            .iter()
            .map(|(k, v)| {
                matches!(k, std::borrow::Cow::Owned(_)) || matches!(v, std::borrow::Cow::Owned(_))
            })
            .collect();
        assert_eq!(owned, [false, false, true, false, true]);
        assert_eq!(pairs[2].1, "/");
        assert_eq!(pairs[3].1, "x=y");
        assert_eq!(pairs[4].0, "f ");
    }
}

//! Running a query: the plan built from the parsed commands, and the
//! executor that streams events through it.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use super::QueryError;
use super::eval::{Eval, Record, truthy};
use super::parser::{
    Aggregate, Command, Expr, FieldId, MAX_ROWS, MESSAGE, ParseSpec, Parsed, Projection, SortKey,
    Symbols, TIMESTAMP,
};
use super::stats::{AggState, KeyPart};
use super::value::{Owned, Value, natural_cmp};
use crate::EventRef;

/// What runs on each event, before any `stats`.
#[derive(Clone, Debug)]
pub(crate) enum Stage {
    Assign(Vec<Projection>),
    Parse(ParseSpec),
    Filter(Expr),
}

#[derive(Clone, Debug)]
pub(crate) enum Shape {
    /// A query without `stats`: matching events are the rows.
    Events {
        output: Vec<FieldId>,
        sort: Vec<SortKey>,
        dedup: Option<Vec<FieldId>>,
    },
    Stats {
        aggregates: Vec<Aggregate>,
        by: Vec<Projection>,
        /// The commands after `stats`, run in order over its rows.
        post: Vec<Command>,
        output: Vec<FieldId>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub symbols: Symbols,
    pub stages: Vec<Stage>,
    pub shape: Shape,
    pub row_limit: usize,
}

fn push_unique(list: &mut Vec<FieldId>, id: FieldId) {
    if !list.contains(&id) {
        list.push(id);
    }
}

impl Plan {
    pub(crate) fn build(parsed: Parsed) -> Result<Plan, QueryError> {
        let mut stages = Vec::new();
        let mut fields_out = Vec::new();
        let mut display = None;
        let mut sort = None;
        let mut dedup = None;
        let mut row_limit = MAX_ROWS;
        let mut stats = None;
        let mut post = Vec::new();
        for cmd in parsed.commands {
            if let Command::Limit(n) = cmd {
                row_limit = row_limit.min(n);
            }
            if stats.is_some() {
                if matches!(cmd, Command::Stats { .. }) {
                    return Err(QueryError::Unsupported(
                        "only one stats command per query is supported".into(),
                    ));
                }
                post.push(cmd);
                continue;
            }
            match cmd {
                Command::Fields(ps) => {
                    for p in &ps {
                        push_unique(&mut fields_out, p.target);
                    }
                    stages.push(Stage::Assign(ps));
                }
                Command::Display(ids) => display = Some(ids),
                Command::Filter(e) => stages.push(Stage::Filter(e)),
                Command::Parse(spec) => stages.push(Stage::Parse(spec)),
                Command::Sort(keys) => sort = Some(keys),
                Command::Dedup(ids) => dedup = Some(ids),
                Command::Limit(_) => {}
                Command::Stats { aggregates, by } => stats = Some((aggregates, by)),
            }
        }
        let shape = match stats {
            None => Shape::Events {
                output: display.unwrap_or(if fields_out.is_empty() {
                    vec![TIMESTAMP, MESSAGE]
                } else {
                    fields_out
                }),
                // Without a sort, Insights returns the newest events first.
                sort: sort.unwrap_or_else(|| {
                    vec![SortKey {
                        expr: Expr::Field(TIMESTAMP),
                        desc: true,
                    }]
                }),
                dedup,
            },
            Some((aggregates, by)) => {
                let mut output: Vec<FieldId> = Vec::new();
                for p in &by {
                    push_unique(&mut output, p.target);
                }
                for a in &aggregates {
                    push_unique(&mut output, a.target);
                }
                for cmd in &post {
                    match cmd {
                        Command::Fields(ps) => {
                            for p in ps {
                                push_unique(&mut output, p.target);
                            }
                        }
                        Command::Display(ids) => output = ids.clone(),
                        _ => {}
                    }
                }
                Shape::Stats {
                    aggregates,
                    by,
                    post,
                    output,
                }
            }
        };
        Ok(Plan {
            symbols: parsed.symbols,
            stages,
            shape,
            row_limit,
        })
    }
}

/// One `GetQueryResults` answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryOutput {
    /// Each row's (field name, value) pairs in display order; a field with
    /// no value in a row is left out of that row, as AWS does.
    pub rows: Vec<Vec<(String, String)>>,
    /// Events that passed the query's filters (before `stats`).
    pub records_matched: u64,
    pub records_scanned: u64,
    /// Bytes of the messages scanned.
    pub bytes_scanned: u64,
}

/// Runs one query over events pushed one at a time. Memory stays bounded by
/// the row limit for plain queries (a top-k heap), and by the number of
/// groups for `stats`.
pub struct Executor {
    plan: Arc<Plan>,
    state: State,
    scanned: u64,
    matched: u64,
    bytes: u64,
}

enum State {
    Events(Collector),
    Stats(Groups),
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("scanned", &self.scanned)
            .field("matched", &self.matched)
            .finish_non_exhaustive()
    }
}

impl Executor {
    pub(crate) fn new(plan: Arc<Plan>) -> Executor {
        let state = match &plan.shape {
            Shape::Events { dedup, .. } => State::Events(Collector {
                heap: BinaryHeap::new(),
                dedup: dedup.as_ref().map(|_| HashMap::new()),
                seq: 0,
            }),
            Shape::Stats { .. } => State::Stats(Groups {
                map: HashMap::new(),
                scratch: Vec::new(),
            }),
        };
        Executor {
            plan,
            state,
            scanned: 0,
            matched: 0,
            bytes: 0,
        }
    }

    /// Feeds one event; its rows' `@ptr` names `ev.group`.
    pub fn push(&mut self, ev: &EventRef<'_>) {
        self.push_with_pointer_group(ev, ev.group);
    }

    /// Feeds one event whose `group` is a display label rather than the log
    /// group's name: the server shows `@log` as `<account id>:<group>`, but a
    /// row's `@ptr` must name the group the store knows, `pointer_group`.
    pub fn push_with_pointer_group(&mut self, ev: &EventRef<'_>, pointer_group: &str) {
        self.scanned += 1;
        self.bytes += ev.message.len() as u64;
        let plan = &*self.plan;
        let eval = Eval {
            symbols: &plan.symbols,
        };
        let mut rec = Record::for_event(*ev, plan.symbols.names.len());
        for stage in &plan.stages {
            match stage {
                Stage::Assign(ps) => assign(&eval, ps, &mut rec),
                Stage::Parse(spec) => apply_parse(&eval, spec, &mut rec),
                Stage::Filter(e) => {
                    if !truthy(&eval.eval(e, &mut rec)) {
                        return;
                    }
                }
            }
        }
        self.matched += 1;
        match (&mut self.state, &plan.shape) {
            (
                State::Events(c),
                Shape::Events {
                    output,
                    sort,
                    dedup,
                },
            ) => c.offer(
                &eval,
                Row {
                    output,
                    pointer: Pointer {
                        group: pointer_group,
                        timestamp_ms: ev.timestamp_ms,
                        id: ev.id,
                    },
                },
                sort,
                dedup.as_deref(),
                plan.row_limit,
                &mut rec,
            ),
            (State::Stats(g), Shape::Stats { aggregates, by, .. }) => {
                g.add(&eval, aggregates, by, &mut rec)
            }
            _ => {}
        }
    }

    pub fn finish(self) -> QueryOutput {
        let plan = &*self.plan;
        let rows = match (self.state, &plan.shape) {
            (State::Events(c), Shape::Events { .. }) => c.finish(plan.row_limit),
            (
                State::Stats(g),
                Shape::Stats {
                    aggregates,
                    by,
                    post,
                    output,
                },
            ) => g.finish(plan, aggregates, by, post, output),
            _ => Vec::new(),
        };
        QueryOutput {
            rows,
            records_matched: self.matched,
            records_scanned: self.scanned,
            bytes_scanned: self.bytes,
        }
    }
}

fn assign<'r>(eval: &Eval<'_>, ps: &'r [Projection], rec: &mut Record<'r>) {
    for p in ps {
        let v = eval.eval(&p.expr, rec);
        rec.set(p.target, v);
    }
}

fn apply_parse<'r>(eval: &Eval<'_>, spec: &'r ParseSpec, rec: &mut Record<'r>) {
    let source = eval.eval(&spec.source, rec);
    // Borrow captures from the message when it is borrowed text (the common
    // `parse @message ...`), so parsing copies nothing.
    match source {
        Some(Value::Str(Cow::Borrowed(text))) => {
            let caps = spec.regex.captures(text);
            for &(group, id) in &spec.captures {
                let v = caps
                    .as_ref()
                    .and_then(|c| c.get(group))
                    .map(|m| Value::Str(Cow::Borrowed(m.as_str())));
                rec.set(id, v);
            }
        }
        Some(other) => {
            let text = other.as_text();
            let caps = spec.regex.captures(&text);
            for &(group, id) in &spec.captures {
                let v = caps
                    .as_ref()
                    .and_then(|c| c.get(group))
                    .map(|m| Value::Str(Cow::Owned(m.as_str().to_string())));
                rec.set(id, v);
            }
        }
        None => {
            for &(_, id) in &spec.captures {
                rec.set(id, None);
            }
        }
    }
}

fn render(symbols: &Symbols, output: &[FieldId], rec: &mut Record<'_>) -> Vec<(String, String)> {
    let mut row = Vec::with_capacity(output.len() + 1);
    for &id in output {
        if let Some(v) = rec.get(id, symbols) {
            let name = symbols.names.get(id).cloned().unwrap_or_default();
            row.push((name, v.render()));
        }
    }
    row
}

/// The name of the column that points back at a row's event.
const PTR: &str = "@ptr";

/// Where a row of a query without `stats` came from: what its `@ptr` encodes.
#[derive(Clone, Copy)]
struct Pointer<'a> {
    group: &'a str,
    timestamp_ms: i64,
    id: u64,
}

/// How to turn a kept event into its result row.
struct Row<'a> {
    output: &'a [FieldId],
    pointer: Pointer<'a>,
}

impl Row<'_> {
    /// The query's columns, then `@ptr` last. A field the query itself names
    /// `@ptr` gives way: the column must stay a pointer GetLogRecord reads.
    fn render(&self, symbols: &Symbols, rec: &mut Record<'_>) -> Vec<(String, String)> {
        let mut row = render(symbols, self.output, rec);
        row.retain(|(name, _)| name != PTR);
        let p = self.pointer;
        row.push((
            PTR.to_owned(),
            crate::record_pointer(p.group, p.timestamp_ms, p.id),
        ));
        row
    }
}

/// One sort key's value in a row. Missing values sort last either way.
#[derive(Clone, Debug)]
struct SortCell {
    value: Option<Owned>,
    desc: bool,
}

fn cmp_cells(a: &[SortCell], b: &[SortCell]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ord = match (&x.value, &y.value) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(p), Some(q)) => {
                let o = natural_cmp(p, q);
                if x.desc { o.reverse() } else { o }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn sort_cells<'r>(eval: &Eval<'_>, keys: &'r [SortKey], rec: &mut Record<'r>) -> Vec<SortCell> {
    keys.iter()
        .map(|k| SortCell {
            value: eval.eval(&k.expr, rec).map(Value::into_owned),
            desc: k.desc,
        })
        .collect()
}

/// A candidate result row; orders best-first (sort keys, then arrival).
struct Entry {
    keys: Vec<SortCell>,
    seq: u64,
    row: Vec<(String, String)>,
}

impl Entry {
    fn rank(&self, other: &Entry) -> Ordering {
        cmp_cells(&self.keys, &other.keys).then(self.seq.cmp(&other.seq))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// The best `limit` rows so far: a max-heap whose top is the worst kept row.
/// With `dedup`, the best row per distinct key instead (bounded by the
/// number of distinct keys), cut to the limit at the end.
struct Collector {
    heap: BinaryHeap<Entry>,
    dedup: Option<HashMap<Vec<KeyPart>, Entry>>,
    seq: u64,
}

impl Collector {
    fn offer<'r>(
        &mut self,
        eval: &Eval<'_>,
        row: Row<'_>,
        sort: &'r [SortKey],
        dedup: Option<&[FieldId]>,
        limit: usize,
        rec: &mut Record<'r>,
    ) {
        let seq = self.seq;
        self.seq += 1;
        let keys = sort_cells(eval, sort, rec);
        if let (Some(map), Some(ids)) = (&mut self.dedup, dedup) {
            let key: Vec<KeyPart> = ids
                .iter()
                .map(|&id| KeyPart::of(rec.get(id, eval.symbols)))
                .collect();
            if let Some(kept) = map.get(&key)
                && cmp_cells(&kept.keys, &keys) != Ordering::Greater
            {
                return;
            }
            let row = row.render(eval.symbols, rec);
            map.insert(key, Entry { keys, seq, row });
            return;
        }
        if self.heap.len() >= limit
            && let Some(worst) = self.heap.peek()
            && cmp_cells(&keys, &worst.keys) != Ordering::Less
        {
            // Not better than the worst kept row (ties go to the earlier).
            return;
        }
        let row = row.render(eval.symbols, rec);
        self.heap.push(Entry { keys, seq, row });
        if self.heap.len() > limit {
            self.heap.pop();
        }
    }

    fn finish(self, limit: usize) -> Vec<Vec<(String, String)>> {
        let mut entries: Vec<Entry> = match self.dedup {
            Some(map) => map.into_values().collect(),
            None => self.heap.into_vec(),
        };
        entries.sort();
        entries.truncate(limit);
        entries.into_iter().map(|e| e.row).collect()
    }
}

struct Groups {
    map: HashMap<Vec<KeyPart>, Vec<AggState>>,
    /// The key being looked up, reused so a known group costs no allocation.
    scratch: Vec<KeyPart>,
}

impl Groups {
    fn add<'r>(
        &mut self,
        eval: &Eval<'_>,
        aggregates: &'r [Aggregate],
        by: &'r [Projection],
        rec: &mut Record<'r>,
    ) {
        self.scratch.clear();
        for p in by {
            let v = eval.eval(&p.expr, rec);
            self.scratch.push(KeyPart::of(v));
        }
        let ts = rec.timestamp(eval.symbols);
        if !self.map.contains_key(self.scratch.as_slice()) {
            let fresh = aggregates.iter().map(|a| AggState::new(a.func)).collect();
            self.map.insert(self.scratch.clone(), fresh);
        }
        let Some(states) = self.map.get_mut(self.scratch.as_slice()) else {
            return;
        };
        for (a, state) in aggregates.iter().zip(states.iter_mut()) {
            let v = match &a.arg {
                None => Some(Value::Bool(true)),
                Some(e) => eval.eval(e, rec),
            };
            state.update(v, ts);
        }
    }

    fn finish(
        self,
        plan: &Plan,
        aggregates: &[Aggregate],
        by: &[Projection],
        post: &[Command],
        output: &[FieldId],
    ) -> Vec<Vec<(String, String)>> {
        let eval = Eval {
            symbols: &plan.symbols,
        };
        let slots = plan.symbols.names.len();
        // Insights documents no order for stats rows; the groups' own values,
        // ascending, make the output deterministic (time bins oldest first).
        let mut groups: Vec<(Vec<KeyPart>, Vec<AggState>)> = self.map.into_iter().collect();
        groups.sort_by(|(a, _), (b, _)| {
            for (x, y) in a.iter().zip(b) {
                let ord = match (x.value(), y.value()) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (Some(p), Some(q)) => natural_cmp(&p, &q),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
        let mut rows: Vec<Record<'_>> = groups
            .into_iter()
            .map(|(key, states)| {
                let mut rec = Record::detached(slots);
                for (p, part) in by.iter().zip(&key) {
                    rec.set(p.target, part.value());
                }
                for (a, state) in aggregates.iter().zip(states) {
                    rec.set(a.target, state.finish(a));
                }
                rec
            })
            .collect();
        for cmd in post {
            rows = run_post(&eval, cmd, rows);
        }
        rows.truncate(plan.row_limit);
        rows.iter_mut()
            .map(|rec| render(&plan.symbols, output, rec))
            .collect()
    }
}

/// One command after `stats`, over all of its rows.
fn run_post<'r>(eval: &Eval<'_>, cmd: &'r Command, mut rows: Vec<Record<'r>>) -> Vec<Record<'r>> {
    match cmd {
        Command::Fields(ps) => {
            for rec in &mut rows {
                assign(eval, ps, rec);
            }
        }
        Command::Parse(spec) => {
            for rec in &mut rows {
                apply_parse(eval, spec, rec);
            }
        }
        Command::Filter(e) => rows.retain_mut(|rec| truthy(&eval.eval(e, rec))),
        Command::Sort(keys) => {
            let mut keyed: Vec<(Vec<SortCell>, Record<'r>)> = rows
                .into_iter()
                .map(|mut rec| (sort_cells(eval, keys, &mut rec), rec))
                .collect();
            // Stable: equal keys keep their order.
            keyed.sort_by(|(a, _), (b, _)| cmp_cells(a, b));
            rows = keyed.into_iter().map(|(_, rec)| rec).collect();
        }
        Command::Limit(n) => rows.truncate(*n),
        Command::Dedup(ids) => {
            let mut seen = std::collections::HashSet::new();
            rows.retain_mut(|rec| {
                let key: Vec<KeyPart> = ids
                    .iter()
                    .map(|&id| KeyPart::of(rec.get(id, eval.symbols)))
                    .collect();
                seen.insert(key)
            });
        }
        Command::Display(_) | Command::Stats { .. } => {}
    }
    rows
}

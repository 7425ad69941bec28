//! One record (an event, or a `stats` result row) and expression evaluation
//! over it.

use std::borrow::Cow;

use crate::EventRef;

use super::parser::{
    ArithOp, CmpOp, Expr, FieldId, Func, INGESTION_TIME, LOG, LOG_STREAM, MESSAGE, Pattern,
    Symbols, TIMESTAMP,
};
use super::value::{Value, f64_to_i64, parse_number};

/// Insights extracts at most this many fields from one JSON event.
const MAX_JSON_FIELDS: usize = 200;

pub(crate) struct Record<'r> {
    event: Option<EventRef<'r>>,
    /// Values by field slot; builtins fall back to the event when unset.
    slots: Vec<Option<Value<'r>>>,
    /// Whether the message's JSON fields have been read into `slots` (done on
    /// the first read of a field that is neither set nor built in, so a query
    /// over @message alone never parses JSON).
    discovered: bool,
}

impl<'r> Record<'r> {
    pub(crate) fn for_event(event: EventRef<'r>, slot_count: usize) -> Self {
        Record {
            event: Some(event),
            slots: vec![None; slot_count],
            discovered: false,
        }
    }

    /// A record with no event behind it: a `stats` result row.
    pub(crate) fn detached(slot_count: usize) -> Self {
        Record {
            event: None,
            slots: vec![None; slot_count],
            discovered: true,
        }
    }

    pub(crate) fn set(&mut self, id: FieldId, v: Option<Value<'r>>) {
        if let Some(slot) = self.slots.get_mut(id) {
            *slot = v;
        }
    }

    pub(crate) fn get(&mut self, id: FieldId, symbols: &Symbols) -> Option<Value<'r>> {
        if let Some(Some(v)) = self.slots.get(id) {
            return Some(v.clone());
        }
        if let Some(ev) = self.event {
            match id {
                TIMESTAMP => return Some(Value::Time(ev.timestamp_ms)),
                MESSAGE => return Some(Value::Str(Cow::Borrowed(ev.message))),
                LOG_STREAM => return Some(Value::Str(Cow::Borrowed(ev.stream))),
                LOG => return Some(Value::Str(Cow::Borrowed(ev.group))),
                INGESTION_TIME => return Some(Value::Time(ev.ingestion_ms)),
                _ => {}
            }
            if !self.discovered {
                self.discovered = true;
                self.discover(ev.message, symbols);
                if let Some(Some(v)) = self.slots.get(id) {
                    return Some(v.clone());
                }
            }
        }
        None
    }

    /// The event's @timestamp, for `earliest`/`latest` and `bin`.
    pub(crate) fn timestamp(&mut self, symbols: &Symbols) -> Option<i64> {
        self.get(TIMESTAMP, symbols).and_then(|v| v.as_time())
    }

    /// Reads a JSON message's fields into the slots the query uses and has
    /// not set itself.
    fn discover(&mut self, message: &str, symbols: &Symbols) {
        for_each_json_field(message, &mut |path, value| {
            if let Some(id) = symbols.lookup(path)
                && !Symbols::is_builtin(id)
                && matches!(self.slots.get(id), Some(None))
            {
                self.set(id, Some(Value::Str(Cow::Owned(value))));
            }
        });
    }
}

/// Hands each field of a JSON object message to `f` as Insights names it:
/// nested keys joined with dots (`request.status`), array items by index
/// (`items.0`), values as text; nulls are fields without a value, and only
/// the first [`MAX_JSON_FIELDS`] count. A message that is not a JSON
/// object has no fields.
pub(crate) fn for_each_json_field(message: &str, f: &mut dyn FnMut(&str, String)) {
    if !message.trim_start().starts_with('{') {
        return;
    }
    let Ok(json) = serde_json::from_str::<serde_json::Value>(message) else {
        return;
    };
    let mut path = String::new();
    let mut seen = 0;
    flatten(&json, &mut path, &mut seen, f);
}

fn flatten(
    v: &serde_json::Value,
    path: &mut String,
    seen: &mut usize,
    f: &mut dyn FnMut(&str, String),
) {
    use serde_json::Value as J;
    let mut child = |key: &str, v: &serde_json::Value, path: &mut String| {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        flatten(v, path, seen, f);
        path.truncate(len);
    };
    match v {
        J::Object(map) => {
            for (k, v) in map {
                child(k, v, path);
            }
        }
        J::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                child(&i.to_string(), v, path);
            }
        }
        leaf => {
            if *seen >= MAX_JSON_FIELDS {
                return;
            }
            *seen += 1;
            let value = match leaf {
                J::String(s) => s.clone(),
                J::Number(n) => n.to_string(),
                J::Bool(b) => b.to_string(),
                // A JSON null is a field without a value.
                _ => return,
            };
            f(path, value);
        }
    }
}

/// Whether a `filter` keeps a record: only a true condition does (a
/// comparison with a missing field is unknown, and unknown drops).
pub(crate) fn truthy(v: &Option<Value<'_>>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Num(n)) => *n != 0.0,
        _ => false,
    }
}

fn num(n: f64) -> Option<Value<'static>> {
    n.is_finite().then_some(Value::Num(n))
}

pub(crate) struct Eval<'s> {
    pub symbols: &'s Symbols,
}

impl Eval<'_> {
    pub(crate) fn eval<'r>(&self, e: &'r Expr, rec: &mut Record<'r>) -> Option<Value<'r>> {
        match e {
            Expr::Field(id) => rec.get(*id, self.symbols),
            Expr::Lit(v) => Some(match v {
                Value::Str(s) => Value::Str(Cow::Borrowed(s.as_ref())),
                other => other.clone(),
            }),
            // A bare period means nothing outside bin/datefloor/dateceil.
            Expr::Period(_) => None,
            Expr::Neg(inner) => num(-self.eval(inner, rec)?.as_num()?),
            Expr::Not(inner) => match self.eval(inner, rec) {
                Some(Value::Bool(b)) => Some(Value::Bool(!b)),
                Some(Value::Num(n)) => Some(Value::Bool(n == 0.0)),
                _ => None,
            },
            Expr::Arith(op, a, b) => {
                let x = self.eval(a, rec)?.as_num()?;
                let y = self.eval(b, rec)?.as_num()?;
                num(match op {
                    ArithOp::Add => x + y,
                    ArithOp::Sub => x - y,
                    ArithOp::Mul => x * y,
                    ArithOp::Div if y == 0.0 => return None,
                    ArithOp::Div => x / y,
                    ArithOp::Rem if y == 0.0 => return None,
                    ArithOp::Rem => x % y,
                    ArithOp::Pow => x.powf(y),
                })
            }
            Expr::Cmp(op, a, b) => {
                let x = self.eval(a, rec)?;
                let y = self.eval(b, rec)?;
                let ord = compare(&x, &y)?;
                Some(Value::Bool(match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Ne => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Ge => ord.is_ge(),
                }))
            }
            // Kleene logic: false wins `and`, true wins `or`, whatever the
            // unknown side is.
            Expr::And(a, b) => {
                let x = self.eval(a, rec);
                if x == Some(Value::Bool(false)) {
                    return x;
                }
                let y = self.eval(b, rec);
                match (truth(&x), truth(&y)) {
                    (_, Some(false)) => Some(Value::Bool(false)),
                    (Some(true), Some(true)) => Some(Value::Bool(true)),
                    _ => None,
                }
            }
            Expr::Or(a, b) => {
                let x = self.eval(a, rec);
                if truth(&x) == Some(true) {
                    return Some(Value::Bool(true));
                }
                let y = self.eval(b, rec);
                match (truth(&x), truth(&y)) {
                    (_, Some(true)) => Some(Value::Bool(true)),
                    (Some(false), Some(false)) => Some(Value::Bool(false)),
                    _ => None,
                }
            }
            Expr::Like {
                subject,
                pattern,
                negated,
            } => {
                let v = self.eval(subject, rec)?;
                let text = v.as_text();
                let hit = match pattern {
                    Pattern::Substring(s) => {
                        memchr::memmem::find(text.as_bytes(), s.as_bytes()).is_some()
                    }
                    Pattern::Regex(re) => re.is_match(&text),
                };
                Some(Value::Bool(hit != *negated))
            }
            Expr::In {
                subject,
                set,
                negated,
            } => {
                let v = self.eval(subject, rec)?;
                let mut hit = false;
                for item in set {
                    if let Some(x) = self.eval(item, rec)
                        && compare(&v, &x).is_some_and(|o| o.is_eq())
                    {
                        hit = true;
                        break;
                    }
                }
                Some(Value::Bool(hit != *negated))
            }
            Expr::Call(func, args) => self.call(*func, args, rec),
        }
    }

    fn call<'r>(&self, func: Func, args: &'r [Expr], rec: &mut Record<'r>) -> Option<Value<'r>> {
        let arg = |i: usize, this: &Self, rec: &mut Record<'r>| -> Option<Value<'r>> {
            this.eval(args.get(i)?, rec)
        };
        let period = |i: usize| match args.get(i) {
            Some(Expr::Period(p)) => Some(*p),
            _ => None,
        };
        let text = |v: Value<'r>| -> Cow<'r, str> {
            match v {
                Value::Str(s) => s,
                other => Cow::Owned(other.render()),
            }
        };
        let string = |s: String| Some(Value::Str(Cow::Owned(s)));
        match func {
            Func::Strlen => num(text(arg(0, self, rec)?).chars().count() as f64),
            Func::ToLower => string(text(arg(0, self, rec)?).to_lowercase()),
            Func::ToUpper => string(text(arg(0, self, rec)?).to_uppercase()),
            Func::Trim => string(text(arg(0, self, rec)?).trim().to_string()),
            Func::Ltrim => string(text(arg(0, self, rec)?).trim_start().to_string()),
            Func::Rtrim => string(text(arg(0, self, rec)?).trim_end().to_string()),
            Func::Concat => {
                let mut out = String::new();
                let mut any = false;
                for a in args {
                    if let Some(v) = self.eval(a, rec) {
                        any = true;
                        out.push_str(&v.as_text());
                    }
                }
                if any { string(out) } else { None }
            }
            Func::Substr => {
                let s = text(arg(0, self, rec)?);
                let start = f64_to_i64(arg(1, self, rec)?.as_num()?)?.max(0) as usize;
                let taken: String = match args.len() {
                    3 => {
                        let len = f64_to_i64(arg(2, self, rec)?.as_num()?)?.max(0) as usize;
                        s.chars().skip(start).take(len).collect()
                    }
                    _ => s.chars().skip(start).collect(),
                };
                string(taken)
            }
            Func::Replace => {
                let s = text(arg(0, self, rec)?);
                let from = text(arg(1, self, rec)?);
                let to = text(arg(2, self, rec)?);
                if from.is_empty() {
                    return Some(Value::Str(s));
                }
                string(s.replace(from.as_ref(), &to))
            }
            Func::StrContains => {
                let s = text(arg(0, self, rec)?);
                let sub = text(arg(1, self, rec)?);
                num(if s.contains(sub.as_ref()) { 1.0 } else { 0.0 })
            }
            Func::Abs => num(arg(0, self, rec)?.as_num()?.abs()),
            Func::Ceil => num(arg(0, self, rec)?.as_num()?.ceil()),
            Func::Floor => num(arg(0, self, rec)?.as_num()?.floor()),
            Func::Round => num(arg(0, self, rec)?.as_num()?.round()),
            Func::Sqrt => num(arg(0, self, rec)?.as_num()?.sqrt()),
            Func::Log => num(arg(0, self, rec)?.as_num()?.ln()),
            Func::Greatest | Func::Least => {
                let mut best: Option<f64> = None;
                for a in args {
                    if let Some(n) = self.eval(a, rec).and_then(|v| v.as_num()) {
                        best = Some(match best {
                            None => n,
                            Some(b) if func == Func::Greatest => b.max(n),
                            Some(b) => b.min(n),
                        });
                    }
                }
                num(best?)
            }
            Func::Bin => {
                let t = rec.timestamp(self.symbols)?;
                Some(Value::Time(period(0)?.floor(t)?))
            }
            Func::DateFloor => {
                let t = arg(0, self, rec)?.as_time()?;
                Some(Value::Time(period(1)?.floor(t)?))
            }
            Func::DateCeil => {
                let t = arg(0, self, rec)?.as_time()?;
                Some(Value::Time(period(1)?.ceil(t)?))
            }
            Func::FromMillis => Some(Value::Time(arg(0, self, rec)?.as_time()?)),
            Func::ToMillis => num(arg(0, self, rec)?.as_time()? as f64),
            Func::IsPresent => Some(Value::Bool(arg(0, self, rec).is_some())),
            Func::IsEmpty => Some(Value::Bool(
                arg(0, self, rec).is_none_or(|v| v.as_text().is_empty()),
            )),
            Func::IsBlank => Some(Value::Bool(
                arg(0, self, rec).is_none_or(|v| v.as_text().trim().is_empty()),
            )),
        }
    }
}

fn truth(v: &Option<Value<'_>>) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Num(n)) => Some(*n != 0.0),
        _ => None,
    }
}

/// How two values compare: as numbers when both are numbers (fields are
/// text, so `status = 200` matches the JSON `"status": 200` and `"200"`),
/// otherwise as text.
pub(crate) fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<std::cmp::Ordering> {
    let numeric = |v: &Value<'_>| match v {
        Value::Num(n) => Some(*n),
        Value::Time(t) => Some(*t as f64),
        Value::Str(s) => parse_number(s),
        Value::Bool(_) => None,
    };
    match (numeric(a), numeric(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(a.as_text().as_ref().cmp(b.as_text().as_ref())),
    }
}

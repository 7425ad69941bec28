//! One comparison's right-hand side (`= "error"`, `> 100`, `= 4*`,
//! `= %regex%`, `= *`) and how it tests a value, shared by JSON selectors and
//! space-delimited fields.

use regex::Regex;

use super::PatternError;
use super::aws_regex;
use super::lexer::Cursor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Reads an operator; `==` is not CloudWatch syntax and is refused by
    /// the caller seeing `=` followed by a stray `=`.
    pub(crate) fn read(cur: &mut Cursor<'_>) -> Option<CmpOp> {
        for (token, op) in [
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("=", CmpOp::Eq),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ] {
            if cur.eat(token) {
                return Some(op);
            }
        }
        None
    }

    fn is_ordering(self) -> bool {
        matches!(self, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
    }
}

/// `*` at either end of a string is a wildcard; one inside is a literal
/// (AWS: "`Ev*ent` will only match the actual string `Ev*ent`").
#[derive(Clone, Debug)]
pub(crate) struct Glob {
    literal: String,
    any_prefix: bool,
    any_suffix: bool,
}

impl Glob {
    fn new(s: &str) -> Glob {
        let any_prefix = s.starts_with('*');
        let rest = if any_prefix { &s[1..] } else { s };
        let any_suffix = rest.ends_with('*');
        let literal = if any_suffix {
            &rest[..rest.len() - 1]
        } else {
            rest
        };
        Glob {
            literal: literal.to_string(),
            any_prefix,
            any_suffix,
        }
    }

    fn matches(&self, v: &str) -> bool {
        match (self.any_prefix, self.any_suffix) {
            (true, true) => v.contains(self.literal.as_str()),
            (true, false) => v.ends_with(self.literal.as_str()),
            (false, true) => v.starts_with(self.literal.as_str()),
            (false, false) => v == self.literal,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Operand {
    /// `*`: any value at all.
    Any,
    Text(Glob),
    /// A number as written (`400`, `+1000`, `1e-3`); `text` is kept for
    /// comparing against values that are not numbers.
    Number {
        value: f64,
        text: String,
    },
    Regex(Box<Regex>),
}

#[derive(Clone, Debug)]
pub(crate) struct Condition {
    pub(crate) op: CmpOp,
    pub(crate) operand: Operand,
}

/// CloudWatch's number grammar: optional sign, digits with an optional
/// fraction, optional exponent. Excludes `inf`, `nan` and hex that Rust's
/// float parser would otherwise accept.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.trim_start_matches('+')
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Characters that end an unquoted value in either pattern kind.
fn ends_bare_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, ')' | '}' | ']' | ',' | '&' | '|' | '(' | '"')
}

impl Condition {
    /// Reads the value after an operator. `regexes` counts `%…%` values for
    /// AWS's per-pattern limit.
    pub(crate) fn read(
        op: CmpOp,
        cur: &mut Cursor<'_>,
        regexes: &mut usize,
    ) -> Result<Condition, PatternError> {
        cur.skip_ws();
        let operand = match cur.peek() {
            Some(b'"') => {
                let s = cur.quoted()?;
                if s.chars().all(|c| c == '*') && !s.is_empty() {
                    Operand::Any
                } else {
                    Operand::Text(Glob::new(&s))
                }
            }
            Some(b'%') => {
                *regexes += 1;
                Operand::Regex(Box::new(aws_regex::compile(cur.regex_body()?)?))
            }
            _ => {
                let at = cur.pos();
                let bare = cur.take_while(|c| !ends_bare_value(c));
                if bare.is_empty() {
                    return Err(cur.unexpected("a value after the operator"));
                }
                if let Some(value) = parse_number(bare) {
                    Operand::Number {
                        value,
                        text: bare.to_string(),
                    }
                } else if bare.chars().all(|c| c == '*') {
                    Operand::Any
                } else if bare.contains(['=', '!', '<', '>', '$']) {
                    return Err(PatternError::Unexpected {
                        found: format!("'{bare}'"),
                        at,
                        expected: "a value (quote values that contain symbols)",
                    });
                } else {
                    Operand::Text(Glob::new(bare))
                }
            }
        };
        if op.is_ordering() && !matches!(operand, Operand::Number { .. }) {
            return Err(PatternError::NotANumber { at: cur.pos() });
        }
        Ok(Condition { op, operand })
    }

    /// Tests a textual value (a space-delimited field, a JSON string).
    pub(crate) fn test_text(&self, v: &str) -> bool {
        if self.op.is_ordering() {
            return match (&self.operand, parse_number(v)) {
                (Operand::Number { value, .. }, Some(x)) => order(self.op, x, *value),
                _ => false,
            };
        }
        let equal = match &self.operand {
            Operand::Any => true,
            Operand::Text(glob) => glob.matches(v),
            Operand::Number { value, text } => match parse_number(v) {
                Some(x) => x == *value,
                None => v == text,
            },
            Operand::Regex(re) => re.is_match(v),
        };
        (self.op == CmpOp::Ne) != equal
    }

    /// Tests a JSON number, compared as a number where the operand is one
    /// and by its text otherwise (`$.code = 4*`).
    pub(crate) fn test_number(&self, x: f64, text: &str) -> bool {
        match &self.operand {
            Operand::Number { value, .. } => match self.op {
                CmpOp::Eq => x == *value,
                CmpOp::Ne => x != *value,
                op => order(op, x, *value),
            },
            _ => self.test_text(text),
        }
    }

    /// A JSON `null`: it is a value node, so `!=` holds and `=` does not
    /// (except `= *`, which only asks for presence).
    pub(crate) fn test_null(&self) -> bool {
        match self.op {
            CmpOp::Eq => matches!(self.operand, Operand::Any),
            CmpOp::Ne => !matches!(self.operand, Operand::Any),
            _ => false,
        }
    }
}

fn order(op: CmpOp, x: f64, y: f64) -> bool {
    match op {
        CmpOp::Lt => x < y,
        CmpOp::Le => x <= y,
        CmpOp::Gt => x > y,
        CmpOp::Ge => x >= y,
        CmpOp::Eq => x == y,
        CmpOp::Ne => x != y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_the_doc_writes_them() {
        assert_eq!(parse_number("+1000"), Some(1000.0));
        assert_eq!(parse_number("10e3"), Some(10000.0));
        assert_eq!(parse_number("10e-3"), Some(0.01));
        assert_eq!(parse_number("55.5"), Some(55.5));
        assert_eq!(parse_number("-7"), Some(-7.0));
        for bad in ["", "+", "1e", "inf", "NaN", "0x10", "1.2.3", "4*", "1 2"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert!(Glob::new("*Event").matches("PutEvent"));
        assert!(Glob::new("Event*").matches("EventName"));
        assert!(!Glob::new("Ev*ent").matches("Event"));
        assert!(Glob::new("Ev*ent").matches("Ev*ent"));
        assert!(Glob::new("*.html*").matches("GET /index.html HTTP/1.0"));
    }
}

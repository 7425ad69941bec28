//! The composite-alarm rule language: `ALARM("name")`, `OK(name)`,
//! `INSUFFICIENT_DATA("arn:...")`, `TRUE`, `FALSE`, `NOT`, `AND`, `OR` and
//! parentheses. Precedence NOT > AND > OR; keywords are upper case as AWS
//! documents them. Alarms are named by name or ARN and normalised to names.

use super::{StateValue, name_from_arn};
use crate::error::ApiResult;
use crate::param::invalid;

/// Nesting deeper than this is refused (bounds recursion on hostile input).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Const(bool),
    /// The named alarm is in the given state.
    State(StateValue, String),
    Not(Box<Rule>),
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
}

impl Rule {
    /// Referenced alarm names, each once, in order of first appearance.
    pub fn referenced_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }
    fn collect(&self, out: &mut Vec<String>) {
        match self {
            Rule::Const(_) => {}
            Rule::State(_, n) => {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
            Rule::Not(r) => r.collect(out),
            Rule::And(a, b) | Rule::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    /// Evaluates with `state_of(name)`; an alarm that does not exist (any
    /// more) is in no state, so every state test on it is false.
    pub fn eval(&self, state_of: &dyn Fn(&str) -> Option<StateValue>) -> bool {
        match self {
            Rule::Const(b) => *b,
            Rule::State(s, n) => state_of(n) == Some(*s),
            Rule::Not(r) => !r.eval(state_of),
            Rule::And(a, b) => a.eval(state_of) && b.eval(state_of),
            Rule::Or(a, b) => a.eval(state_of) || b.eval(state_of),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    LParen,
    RParen,
}

fn bad(msg: &str) -> crate::error::ApiError {
    invalid(format!("Error in alarm rule: {msg}"))
}

fn lex(s: &str) -> ApiResult<Vec<Tok>> {
    let mut toks = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                toks.push(Tok::LParen);
            }
            ')' => {
                chars.next();
                toks.push(Tok::RParen);
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    v.push(c);
                }
                if !closed {
                    return Err(bad(&format!(
                        "unterminated quoted alarm name at position {i}."
                    )));
                }
                toks.push(Tok::Quoted(v));
            }
            _ => {
                let mut v = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    v.push(c);
                    chars.next();
                }
                toks.push(Tok::Word(v));
            }
        }
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn or(&mut self, depth: usize) -> ApiResult<Rule> {
        let mut left = self.and(depth)?;
        while self.peek_word() == Some("OR") {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Rule::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn and(&mut self, depth: usize) -> ApiResult<Rule> {
        let mut left = self.unary(depth)?;
        while self.peek_word() == Some("AND") {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Rule::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn unary(&mut self, depth: usize) -> ApiResult<Rule> {
        if depth > MAX_DEPTH {
            return Err(bad("the rule is nested too deeply."));
        }
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        match tok {
            None => Err(bad("the rule ends where an expression was expected.")),
            Some(Tok::LParen) => {
                let inner = self.or(depth + 1)?;
                match self.toks.get(self.pos) {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(bad("missing closing parenthesis.")),
                }
            }
            Some(Tok::RParen) => Err(bad("unexpected ')'.")),
            Some(Tok::Quoted(q)) => Err(bad(&format!("unexpected \"{q}\"."))),
            Some(Tok::Word(w)) => match w.as_str() {
                "TRUE" => Ok(Rule::Const(true)),
                "FALSE" => Ok(Rule::Const(false)),
                "NOT" => Ok(Rule::Not(Box::new(self.unary(depth + 1)?))),
                "ALARM" | "OK" | "INSUFFICIENT_DATA" => {
                    let state = StateValue::parse(&w).unwrap_or(StateValue::Alarm);
                    self.state_test(state, &w)
                }
                other => Err(bad(&format!(
                    "unexpected '{}'; expected ALARM, OK, INSUFFICIENT_DATA, TRUE, FALSE, NOT or '('.",
                    crate::param::echo(other)
                ))),
            },
        }
    }
    fn state_test(&mut self, state: StateValue, func: &str) -> ApiResult<Rule> {
        if self.toks.get(self.pos) != Some(&Tok::LParen) {
            return Err(bad(&format!("{func} must be followed by (alarm name).")));
        }
        self.pos += 1;
        let name = match self.toks.get(self.pos).cloned() {
            Some(Tok::Quoted(n)) | Some(Tok::Word(n)) => n,
            _ => return Err(bad(&format!("{func}() needs an alarm name or ARN."))),
        };
        self.pos += 1;
        if self.toks.get(self.pos) != Some(&Tok::RParen) {
            return Err(bad(&format!(
                "{func}({name} is missing its closing parenthesis."
            )));
        }
        self.pos += 1;
        let name = name.trim();
        let name = if name.starts_with("arn:") {
            name_from_arn(name)
                .ok_or_else(|| bad(&format!("{name} is not an alarm ARN.")))?
                .to_string()
        } else {
            name.to_string()
        };
        if name.is_empty() {
            return Err(bad(&format!("{func}() needs an alarm name or ARN.")));
        }
        Ok(Rule::State(state, name))
    }
}

/// Parses an `AlarmRule`; errors are `InvalidParameterValue`.
pub fn parse(s: &str) -> ApiResult<Rule> {
    let mut p = Parser {
        toks: lex(s)?,
        pos: 0,
    };
    let rule = p.or(0)?;
    if p.pos < p.toks.len() {
        return Err(bad("unexpected text after the end of the rule."));
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates() {
        let states = |n: &str| match n {
            "a" => Some(StateValue::Alarm),
            "b" => Some(StateValue::Ok),
            "c" => Some(StateValue::InsufficientData),
            _ => None,
        };
        let table: &[(&str, bool)] = &[
            ("TRUE", true),
            ("FALSE", false),
            ("ALARM(a)", true),
            ("ALARM(\"a\")", true),
            (
                "ALARM(\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:a\")",
                true,
            ),
            ("OK(b)", true),
            ("INSUFFICIENT_DATA(c)", true),
            ("ALARM(b)", false),
            ("ALARM(zzz)", false),
            ("NOT ALARM(b)", true),
            ("ALARM(a) AND OK(b)", true),
            ("ALARM(b) OR OK(b) AND FALSE", false),
            ("ALARM(a) OR OK(b) AND FALSE", true),
            ("(ALARM(a) OR OK(b)) AND FALSE", false),
            ("NOT (ALARM(a) AND NOT OK(b))", true),
            ("  ALARM( \"a\" )  ", true),
        ];
        for (text, want) in table {
            let r = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.eval(&states), *want, "{text}");
        }
    }

    #[test]
    fn refuses_bad_rules() {
        for text in [
            "",
            "ALARM",
            "ALARM()",
            "ALARM(a",
            "ALARM(a) AND",
            "(ALARM(a)",
            "ALARM(a))",
            "alarm(a)",
            "ALARM(a) XOR OK(b)",
            "ALARM(\"a)",
            "ALARM(arn:aws:sns:us-east-1:1:t)",
            "TRUE FALSE",
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidParameterValue, "{text}");
        }
        let deep = format!("{}TRUE{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).is_err());
        let nots = format!("{}TRUE", "NOT ".repeat(500));
        assert!(parse(&nots).is_err());
    }

    #[test]
    fn names_in_order_once() {
        let r = parse("ALARM(b) OR (OK(a) AND ALARM(\"b\"))").unwrap();
        assert_eq!(r.referenced_names(), vec!["b".to_string(), "a".to_string()]);
    }
}

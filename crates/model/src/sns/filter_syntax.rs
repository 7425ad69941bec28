//! The first pass over a filter policy: refuses it the way SNS does, in the
//! order SNS reads it and with the position SNS names.
//!
//! SNS compiles filter policies with a streaming Java JSON parser (Jackson) and
//! reports the first problem with the parser's position, e.g.
//! `Only one key allowed in match expression\n at [Source: (String)"…"; line: 1,
//! column: 37]`. Clients and tests compare these messages, so this module walks
//! the text token by token as that parser does: a string token is only opened
//! (its closing quote not yet read) until its text is needed, and reading a
//! field name also reads the start of its value. The messages and their order
//! come from AWS's recorded answers (tests/aws-recorded/test_sns_filter_policy).
//!
//! A policy this pass accepts is then parsed and checked for complexity by
//! [`super::filter::FilterPolicy::parse`]; shapes whose AWS wording is not known
//! here are left to that second pass.

/// Why the first pass refused a policy: the text after `FilterPolicy: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxRefusal(pub String);

/// Jackson shows at most this many characters of the source in a location.
const MAX_SOURCE_SHOWN: usize = 500;

/// Checks `text`; `Ok` means "nothing refused here" (the second pass decides).
///
/// SNS first reads the policy as plain JSON (its syntax errors show no source),
/// then compiles the compact form of it (its rule errors show that form and
/// count columns in it), so the two passes here read different texts.
pub fn check(text: &str) -> Result<(), SyntaxRefusal> {
    if serde_json::from_str::<serde_json::Value>(text).is_err() {
        let mut p = Parser::new(text);
        return match p.skip_all() {
            Err(Stop::Json(msg, at)) => Err(json_refusal(&msg, at)),
            // Malformed in a way this walk does not word: the second pass says so.
            _ => Ok(()),
        };
    }
    let compact = compact(text);
    let text = compact.as_str();
    let mut p = Parser::new(text);
    match p.policy() {
        Ok(()) | Err(Stop::Defer) => Ok(()),
        Err(Stop::Json(msg, at)) => Err(json_refusal(&msg, at)),
        Err(Stop::Rule(msg)) => {
            let at = p.location();
            Err(SyntaxRefusal(format!(
                "{msg}\n at [Source: (String){}; line: {}, column: {}]",
                source_shown(text),
                at.line,
                at.column
            )))
        }
        Err(Stop::Plain(msg)) => Err(SyntaxRefusal(msg)),
    }
}

fn json_refusal(msg: &str, at: Location) -> SyntaxRefusal {
    SyntaxRefusal(format!(
        "failed to parse JSON. {msg}\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: {}, column: {}]",
        at.line, at.column
    ))
}

/// `text` (valid JSON) without the whitespace between its tokens.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\r' | '\n') {
            out.push(c);
        }
    }
    out
}

fn source_shown(text: &str) -> String {
    let total = text.chars().count();
    if total <= MAX_SOURCE_SHOWN {
        format!("\"{text}\"")
    } else {
        let head: String = text.chars().take(MAX_SOURCE_SHOWN).collect();
        format!("\"{head}\"[truncated {} chars]", total - MAX_SOURCE_SHOWN)
    }
}

#[derive(Debug, Clone, Copy)]
struct Location {
    line: usize,
    column: usize,
}

enum Stop {
    /// Malformed JSON: Jackson's message and the offending position.
    Json(String, Location),
    /// A rule refused at the parser's current position.
    Rule(String),
    /// A rule refused without a position (AWS gives none for these).
    Plain(String),
    /// A shape whose AWS wording this pass does not know: the second pass decides.
    Defer,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    StartObject,
    EndObject,
    StartArray,
    EndArray,
    Field(String),
    /// A string whose opening quote is read; its text is read on demand.
    Str,
    Number(String),
    True,
    False,
    Null,
    End,
}

impl Token {
    /// The token's text as Jackson's `getText` shows it in messages.
    fn text(&self) -> String {
        match self {
            Token::StartObject => "{".into(),
            Token::EndObject => "}".into(),
            Token::StartArray => "[".into(),
            Token::EndArray => "]".into(),
            Token::Field(s) => s.clone(),
            Token::Str => String::new(),
            Token::Number(n) => n.clone(),
            Token::True => "true".into(),
            Token::False => "false".into(),
            Token::Null => "null".into(),
            Token::End => String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Context {
    Root { done: bool },
    Array { first: bool },
    Object { first: bool },
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    line_start: usize,
    stack: Vec<Context>,
    /// The value token read together with a field name.
    pending: Option<Token>,
    /// A string token whose text has not been read yet.
    open_string: bool,
}

type Step<T> = Result<T, Stop>;

impl Parser {
    fn new(text: &str) -> Parser {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
            line_start: 0,
            stack: vec![Context::Root { done: false }],
            pending: None,
            open_string: false,
        }
    }

    /// The position after the last character read.
    fn location(&self) -> Location {
        Location {
            line: self.line,
            column: self.pos - self.line_start + 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            self.bump();
        }
    }

    fn unexpected(&self, c: char, expecting: &str) -> Stop {
        // Jackson names the offending character at its own position.
        let at = Location {
            line: self.line,
            column: self.pos - self.line_start,
        };
        Stop::Json(
            format!(
                "Unexpected character ('{c}' (code {})): {expecting}",
                c as u32
            ),
            at,
        )
    }

    fn end_of_input(&self) -> Stop {
        Stop::Json("Unexpected end-of-input".into(), self.location())
    }

    /// Reads the rest of an opened string and returns its text.
    fn finish_string(&mut self) -> Step<String> {
        self.open_string = false;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.end_of_input()),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    None => return Err(self.end_of_input()),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                        let c = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .unwrap_or('\u{fffd}');
                        out.push(c);
                    }
                    Some(c) => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn value_start(&mut self) -> Step<Token> {
        let Some(c) = self.peek() else {
            return Err(self.end_of_input());
        };
        match c {
            '{' => {
                self.bump();
                self.stack.push(Context::Object { first: true });
                Ok(Token::StartObject)
            }
            '[' => {
                self.bump();
                self.stack.push(Context::Array { first: true });
                Ok(Token::StartArray)
            }
            '"' => {
                self.bump();
                self.open_string = true;
                Ok(Token::Str)
            }
            '-' | '0'..='9' => {
                let start = self.pos;
                while matches!(self.peek(), Some('-' | '+' | '.' | 'e' | 'E' | '0'..='9')) {
                    self.bump();
                }
                Ok(Token::Number(self.chars[start..self.pos].iter().collect()))
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
                {
                    self.bump();
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Token::True),
                    "false" => Ok(Token::False),
                    "null" => Ok(Token::Null),
                    _ => Err(Stop::Json(
                        format!(
                            "Unrecognized token '{word}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
                        ),
                        self.location(),
                    )),
                }
            }
            c => {
                self.bump();
                Err(self.unexpected(
                    c,
                    "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
                ))
            }
        }
    }

    fn next(&mut self) -> Step<Token> {
        if let Some(t) = self.pending.take() {
            return Ok(t);
        }
        if self.open_string {
            self.finish_string()?;
        }
        self.skip_ws();
        let Some(top) = self.stack.last().copied() else {
            return Ok(Token::End);
        };
        match top {
            Context::Root { done } => {
                if done || self.peek().is_none() {
                    return Ok(Token::End);
                }
                if let Some(Context::Root { done }) = self.stack.last_mut() {
                    *done = true;
                }
                self.value_start()
            }
            Context::Array { first } => {
                if self.peek() == Some(']') {
                    self.bump();
                    self.stack.pop();
                    return Ok(Token::EndArray);
                }
                if !first {
                    match self.bump() {
                        Some(',') => self.skip_ws(),
                        Some(c) => {
                            return Err(
                                self.unexpected(c, "was expecting comma to separate Array entries")
                            );
                        }
                        None => return Err(self.end_of_input()),
                    }
                }
                if let Some(Context::Array { first }) = self.stack.last_mut() {
                    *first = false;
                }
                self.value_start()
            }
            Context::Object { first } => {
                if self.peek() == Some('}') {
                    self.bump();
                    self.stack.pop();
                    return Ok(Token::EndObject);
                }
                if !first {
                    match self.bump() {
                        Some(',') => self.skip_ws(),
                        Some(c) => {
                            return Err(self
                                .unexpected(c, "was expecting comma to separate Object entries"));
                        }
                        None => return Err(self.end_of_input()),
                    }
                }
                if let Some(Context::Object { first }) = self.stack.last_mut() {
                    *first = false;
                }
                match self.bump() {
                    Some('"') => {}
                    Some(c) => {
                        return Err(
                            self.unexpected(c, "was expecting double-quote to start field name")
                        );
                    }
                    None => return Err(self.end_of_input()),
                }
                let name = self.finish_string()?;
                self.skip_ws();
                match self.bump() {
                    Some(':') => {}
                    Some(c) => {
                        return Err(self.unexpected(
                            c,
                            "was expecting a colon to separate field name and value",
                        ));
                    }
                    None => return Err(self.end_of_input()),
                }
                self.skip_ws();
                let value = self.value_start()?;
                self.pending = Some(value);
                Ok(Token::Field(name))
            }
        }
    }

    /// Reads every token: finds the first syntax error.
    fn skip_all(&mut self) -> Step<()> {
        loop {
            if self.next()? == Token::End {
                return Ok(());
            }
        }
    }

    // ---- the rule grammar, in the order SNS reads it ----

    fn policy(&mut self) -> Step<()> {
        match self.next()? {
            Token::StartObject => self.object()?,
            _ => return Err(Stop::Defer),
        }
        // Anything after the policy object is malformed JSON.
        match self.next()? {
            Token::End => Ok(()),
            _ => Err(Stop::Defer),
        }
    }

    fn object(&mut self) -> Step<()> {
        loop {
            match self.next()? {
                Token::EndObject => return Ok(()),
                Token::Field(name) if name == "$or" => self.or()?,
                Token::Field(name) => match self.next()? {
                    Token::StartArray => self.match_list()?,
                    Token::StartObject => self.object()?,
                    _ => {
                        return Err(Stop::Rule(format!(
                            "\"{name}\" must be an object or an array"
                        )));
                    }
                },
                _ => return Err(Stop::Defer),
            }
        }
    }

    fn or(&mut self) -> Step<()> {
        if self.next()? != Token::StartArray {
            return Err(Stop::Defer);
        }
        loop {
            match self.next()? {
                Token::EndArray => return Ok(()),
                Token::StartObject => self.object()?,
                _ => return Err(Stop::Defer),
            }
        }
    }

    fn match_list(&mut self) -> Step<()> {
        let mut first = true;
        loop {
            match self.next()? {
                Token::EndArray if first => {
                    return Err(Stop::Rule("Empty arrays are not allowed".into()));
                }
                Token::EndArray => return Ok(()),
                Token::Str => {
                    self.finish_string()?;
                }
                Token::Number(_) | Token::True | Token::False | Token::Null => {}
                Token::StartArray => {
                    return Err(Stop::Rule(
                        "Match value must be String, number, true, false, or null".into(),
                    ));
                }
                Token::StartObject => self.match_expression()?,
                _ => return Err(Stop::Defer),
            }
            first = false;
        }
    }

    /// `{"<operator>": <argument>}` inside a match list.
    fn match_expression(&mut self) -> Step<()> {
        let Token::Field(op) = self.next()? else {
            return Err(Stop::Defer);
        };
        match op.as_str() {
            "prefix" | "suffix" | "equals-ignore-case" => self.string_pattern(&op)?,
            // SNS names "prefix" when a cidr pattern is not a string.
            "cidr" => {
                if self.next()? != Token::Str {
                    return Err(Stop::Rule("prefix match pattern must be a string".into()));
                }
                let cidr = self.finish_string()?;
                check_cidr(&cidr).map_err(Stop::Plain)?;
            }
            "exists" => {
                if !matches!(self.next()?, Token::True | Token::False) {
                    return Err(Stop::Rule(
                        "exists match pattern must be either true or false.".into(),
                    ));
                }
            }
            "numeric" => {
                if self.next()? != Token::StartArray {
                    return Err(Stop::Defer);
                }
                self.numeric()?;
            }
            "anything-but" => self.anything_but()?,
            other => return Err(Stop::Rule(format!("Unrecognized match type {other}"))),
        }
        match self.next()? {
            Token::EndObject => Ok(()),
            Token::Field(_) => Err(Stop::Rule(
                "Only one key allowed in match expression".into(),
            )),
            _ => Err(Stop::Defer),
        }
    }

    fn string_pattern(&mut self, op: &str) -> Step<()> {
        match self.next()? {
            Token::Str => {
                self.finish_string()?;
                Ok(())
            }
            // e.g. {"prefix": {"equals-ignore-case": …}}: the second pass decides.
            Token::StartObject => Err(Stop::Defer),
            _ => Err(Stop::Rule(format!("{op} match pattern must be a string"))),
        }
    }

    fn anything_but(&mut self) -> Step<()> {
        match self.next()? {
            Token::StartObject => {}
            _ => return Err(Stop::Defer),
        }
        let Token::Field(inner) = self.next()? else {
            return Err(Stop::Defer);
        };
        if inner != "prefix" {
            return Err(Stop::Rule(format!(
                "Unsupported anything-but pattern: {inner}"
            )));
        }
        self.string_pattern("prefix")?;
        match self.next()? {
            Token::EndObject => Ok(()),
            _ => Err(Stop::Defer),
        }
    }

    /// After `"numeric": [`.
    fn numeric(&mut self) -> Step<()> {
        let first = self.next()?;
        if first != Token::Str {
            return Err(Stop::Rule(format!(
                "Invalid member in numeric match: {}",
                first.text()
            )));
        }
        let op = self.finish_string()?;
        let value = self.next()?;
        let lower = match op.as_str() {
            ">" | ">=" => true,
            "=" | "<" | "<=" => false,
            _ => {
                return Err(Stop::Rule(format!(
                    "Unrecognized numeric range operator: {op}"
                )));
            }
        };
        let Token::Number(bottom) = value else {
            let name = if op == "=" { "equals" } else { op.as_str() };
            return Err(Stop::Rule(format!("Value of {name} must be numeric")));
        };
        let after = self.next()?;
        if !lower {
            return match after {
                Token::EndArray => Ok(()),
                _ => Err(Stop::Rule("Too many elements in numeric expression".into())),
            };
        }
        match after {
            Token::EndArray => Ok(()),
            Token::Str => {
                let op2 = self.finish_string()?;
                if op2 != "<" && op2 != "<=" {
                    return Err(Stop::Rule(format!("Bad numeric range operator: {op2}")));
                }
                let Token::Number(top) = self.next()? else {
                    return Err(Stop::Rule(format!("Value of {op2} must be numeric")));
                };
                if self.next()? != Token::EndArray {
                    return Err(Stop::Rule(
                        "Too many terms in numeric range expression".into(),
                    ));
                }
                let (Ok(b), Ok(t)) = (bottom.parse::<f64>(), top.parse::<f64>()) else {
                    return Err(Stop::Defer);
                };
                if b >= t {
                    return Err(Stop::Rule("Bottom must be less than top".into()));
                }
                Ok(())
            }
            other => Err(Stop::Rule(format!(
                "Bad value in numeric range: {}",
                other.text()
            ))),
        }
    }
}

/// A `cidr` pattern as SNS checks it (AWS gives these messages no position).
pub fn check_cidr(cidr: &str) -> Result<(), String> {
    let parts: Vec<&str> = cidr.split('/').collect();
    let [ip, bits] = parts[..] else {
        return Err("Malformed CIDR, one '/' required".into());
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return Err("Malformed CIDR, mask bits must be an integer".into());
    };
    let max = match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => 32,
        Ok(std::net::IpAddr::V6(_)) => 128,
        Err(_) => return Err(format!("Nonstandard IP address: {ip}")),
    };
    if bits > max {
        return Err(format!(
            "Malformed CIDR, mask bits must be between 0 and {max}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> String {
        check(text).unwrap_err().0
    }

    #[test]
    fn positions_follow_the_streaming_parser() {
        // From AWS's recorded answers.
        assert_eq!(
            refusal(r#"{"key":[{"suffix":"value","prefix":"value2"}]}"#),
            "Only one key allowed in match expression\n at [Source: (String)\"{\"key\":[{\"suffix\":\"value\",\"prefix\":\"value2\"}]}\"; line: 1, column: 37]"
        );
        assert!(refusal(r#"{"key":[{"numeric":["operator"]}]}"#).ends_with("column: 32]"));
        assert!(
            refusal(r#"{"key":[{"numeric":[">",3,"<",1]}]}"#)
                .starts_with("Bottom must be less than top\n")
        );
        assert!(
            refusal(r#"{"key":[{"numeric":["=","000"]}]}"#)
                .starts_with("Value of equals must be numeric\n")
        );
        assert_eq!(
            refusal("invalid-json"),
            "failed to parse JSON. Unrecognized token 'invalid': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 8]"
        );
        assert!(refusal("{invalidjson}").ends_with("line: 1, column: 2]"));
    }

    #[test]
    fn rule_positions_count_in_the_compact_text() {
        assert_eq!(
            refusal(r#"{"key": [["value"]]}"#),
            "Match value must be String, number, true, false, or null\n at [Source: (String)\"{\"key\":[[\"value\"]]}\"; line: 1, column: 10]"
        );
        assert_eq!(
            compact("{ \"a b\" : [ \"x \\\" y\" ] }"),
            "{\"a b\":[\"x \\\" y\"]}"
        );
    }

    #[test]
    fn valid_policies_pass() {
        for p in [
            r#"{"a":["x",1,true,null,{"prefix":"p"},{"numeric":[">",0,"<=",5]}]}"#,
            r#"{"a":[{"anything-but":{"prefix":"x"}}],"$or":[{"b":["1"]},{"c":[{"exists":false}]}]}"#,
            r#"{"a":[{"cidr":"10.0.0.0/8"}],"b":{"c":["x"]}}"#,
        ] {
            assert_eq!(check(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn cidr_messages() {
        assert_eq!(
            check_cidr("bad"),
            Err("Malformed CIDR, one '/' required".into())
        );
        assert_eq!(
            check_cidr("bad-/64x"),
            Err("Malformed CIDR, mask bits must be an integer".into())
        );
        assert_eq!(
            check_cidr("xx.11.xx/8"),
            Err("Nonstandard IP address: xx.11.xx".into())
        );
    }
}

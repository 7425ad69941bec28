//! A byte cursor over a pattern's text, shared by the JSON and
//! space-delimited parsers. It only ever stops on ASCII bytes, so every
//! slice it hands out falls on UTF-8 boundaries.

use super::PatternError;

pub(crate) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Cursor { src, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn is_at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Consumes `token` if the text continues with it.
    pub(crate) fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// Consumes a keyword (ASCII case-insensitive) only when it is a whole
    /// word, so `ISX` is not read as `IS`.
    pub(crate) fn eat_keyword(&mut self, word: &str) -> bool {
        let rest = self.rest().as_bytes();
        if rest.len() < word.len() || !rest[..word.len()].eq_ignore_ascii_case(word.as_bytes()) {
            return false;
        }
        if rest
            .get(word.len())
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return false;
        }
        self.pos += word.len();
        true
    }

    pub(crate) fn bump(&mut self) {
        if let Some(c) = self.rest().chars().next() {
            self.pos += c.len_utf8();
        }
    }

    /// Takes bytes while `keep` holds (ASCII-only decisions; any non-ASCII
    /// character is kept or stopped on as a whole).
    pub(crate) fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.rest().chars().next() {
            if !keep(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// Reads a double-quoted string; the cursor is on the opening quote.
    /// `\"` and `\\` are the only escapes; any other backslash is kept.
    pub(crate) fn quoted(&mut self) -> Result<String, PatternError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.rest().chars().next() else {
                return Err(PatternError::Unterminated {
                    what: "quoted string",
                    at: start,
                });
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => match self.peek() {
                    Some(b'"') => {
                        out.push('"');
                        self.pos += 1;
                    }
                    Some(b'\\') => {
                        out.push('\\');
                        self.pos += 1;
                    }
                    _ => out.push('\\'),
                },
                other => out.push(other),
            }
        }
    }

    /// Reads `%…%` (cursor on the first `%`) and returns the body. The body
    /// runs to the next `%` whatever it contains (`%val.{2}%`).
    pub(crate) fn regex_body(&mut self) -> Result<&'a str, PatternError> {
        let start = self.pos;
        let body_start = start + 1;
        let Some(len) = self.src.get(body_start..).and_then(|s| s.find('%')) else {
            return Err(PatternError::Unterminated {
                what: "regular expression",
                at: start,
            });
        };
        self.pos = body_start + len + 1;
        Ok(self.src.get(body_start..body_start + len).unwrap_or(""))
    }

    /// The next few characters, for error messages.
    pub(crate) fn found(&self) -> String {
        let rest = self.rest();
        if rest.is_empty() {
            "end of pattern".to_string()
        } else {
            let shown: String = rest.chars().take(12).collect();
            format!("'{shown}'")
        }
    }

    pub(crate) fn unexpected(&self, expected: &'static str) -> PatternError {
        PatternError::Unexpected {
            found: self.found(),
            at: self.pos,
            expected,
        }
    }
}

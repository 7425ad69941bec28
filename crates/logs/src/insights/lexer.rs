//! Tokens of the Logs Insights query language.
//!
//! The lexer is driven by the parser: a `/` is division in an expression but
//! opens a regular expression after `like`, `=~` or `parse <field>`, and only
//! the parser knows which, so it asks for [`Lexer::regex`] in those places.

use super::QueryError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: a command, keyword, function or field name (`request.status`).
    Ident(String),
    /// A field name quoted with backticks: never a keyword.
    Quoted(String),
    Str(String),
    Num(f64),
    /// A number glued to a unit, as in `bin(5m)`: (count, unit as written).
    Duration(i64, String),
    Pipe,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Star,
    Plus,
    Minus,
    Slash,
    Percent,
    Caret,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    End,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => s.clone(),
            Tok::Quoted(s) => format!("`{s}`"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Num(n) => n.to_string(),
            Tok::Duration(n, u) => format!("{n}{u}"),
            Tok::Pipe => "|".into(),
            Tok::Comma => ",".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::LBracket => "[".into(),
            Tok::RBracket => "]".into(),
            Tok::Star => "*".into(),
            Tok::Plus => "+".into(),
            Tok::Minus => "-".into(),
            Tok::Slash => "/".into(),
            Tok::Percent => "%".into(),
            Tok::Caret => "^".into(),
            Tok::Eq => "=".into(),
            Tok::Ne => "!=".into(),
            Tok::Lt => "<".into(),
            Tok::Le => "<=".into(),
            Tok::Gt => ">".into(),
            Tok::Ge => ">=".into(),
            Tok::Match => "=~".into(),
            Tok::End => "end of query".into(),
        }
    }
}

pub(crate) struct Lexer<'q> {
    src: &'q str,
    pos: usize,
}

/// A token with the byte offset it starts at (for error positions).
#[derive(Clone, Debug)]
pub(crate) struct Spanned {
    pub tok: Tok,
    pub at: usize,
    /// The offset just past the token.
    pub end: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '@' || c == '$'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '@' || c == '.' || c == '$'
}

impl<'q> Lexer<'q> {
    pub(crate) fn new(src: &'q str) -> Self {
        Lexer { src, pos: 0 }
    }

    pub(crate) fn src(&self) -> &'q str {
        self.src
    }

    fn rest(&self) -> &'q str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Skips white space and `#` comments (to the end of the line).
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek_char() {
            if c.is_whitespace() {
                self.bump();
            } else if c == '#' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    pub(crate) fn error(&self, at: usize, what: impl Into<String>) -> QueryError {
        QueryError::at(self.src, at, what)
    }

    pub(crate) fn next(&mut self) -> Result<Spanned, QueryError> {
        self.skip_trivia();
        let at = self.pos;
        let Some(c) = self.bump() else {
            return Ok(Spanned {
                tok: Tok::End,
                at,
                end: at,
            });
        };
        let tok = match c {
            '|' => Tok::Pipe,
            ',' => Tok::Comma,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '*' => Tok::Star,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '^' => Tok::Caret,
            '=' => match self.peek_char() {
                Some('~') => {
                    self.bump();
                    Tok::Match
                }
                // `==` reads as `=`: queries written by programmers use it.
                Some('=') => {
                    self.bump();
                    Tok::Eq
                }
                _ => Tok::Eq,
            },
            '!' => {
                if self.peek_char() == Some('=') {
                    self.bump();
                    Tok::Ne
                } else {
                    return Err(self.error(at, "unexpected symbol '!'"));
                }
            }
            '<' => {
                if self.peek_char() == Some('=') {
                    self.bump();
                    Tok::Le
                } else {
                    Tok::Lt
                }
            }
            '>' => {
                if self.peek_char() == Some('=') {
                    self.bump();
                    Tok::Ge
                } else {
                    Tok::Gt
                }
            }
            '"' | '\'' => Tok::Str(self.string_body(c, at)?),
            '`' => {
                let start = self.pos;
                loop {
                    match self.bump() {
                        Some('`') => break,
                        Some(_) => {}
                        None => return Err(self.error(at, "unterminated `quoted` field name")),
                    }
                }
                Tok::Quoted(self.src[start..self.pos - 1].to_string())
            }
            c if c.is_ascii_digit() => self.number(at)?,
            c if is_ident_start(c) => {
                while self.peek_char().is_some_and(is_ident_continue) {
                    self.bump();
                }
                Tok::Ident(self.src[at..self.pos].to_string())
            }
            other => return Err(self.error(at, format!("unexpected symbol '{other}'"))),
        };
        Ok(Spanned {
            tok,
            at,
            end: self.pos,
        })
    }

    fn string_body(&mut self, quote: char, at: usize) -> Result<String, QueryError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error(at, "unterminated string")),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => match self.bump() {
                    None => return Err(self.error(at, "unterminated string")),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c) => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn number(&mut self, at: usize) -> Result<Tok, QueryError> {
        while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        // A fraction only when a digit follows the dot, so `1.` stays an error
        // at the parser rather than a silently different number.
        let rest = self.rest();
        let mut it = rest.chars();
        if it.next() == Some('.') && it.next().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        // Exponent, as JSON numbers write it.
        let rest = self.rest();
        let mut it = rest.chars();
        if matches!(it.next(), Some('e' | 'E')) {
            let mut probe = it.clone();
            let sign = matches!(probe.clone().next(), Some('+' | '-'));
            if sign {
                probe.next();
            }
            if probe.next().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
                if sign {
                    self.bump();
                }
                while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
        }
        let digits = &self.src[at..self.pos];
        if self.peek_char().is_some_and(|c| c.is_ascii_alphabetic()) {
            let unit_start = self.pos;
            while self.peek_char().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.bump();
            }
            let unit = self.src[unit_start..self.pos].to_string();
            let n: i64 = digits
                .parse()
                .map_err(|_| self.error(at, format!("invalid duration '{digits}{unit}'")))?;
            return Ok(Tok::Duration(n, unit));
        }
        let n: f64 = digits
            .parse()
            .map_err(|_| self.error(at, format!("invalid number '{digits}'")))?;
        Ok(Tok::Num(n))
    }

    /// Reads a `/regex/` literal; `\/` inside stands for a slash. Returns the
    /// pattern text with its span, or `None` when no `/` comes next.
    pub(crate) fn regex(&mut self) -> Result<Option<(String, usize, usize)>, QueryError> {
        self.skip_trivia();
        let at = self.pos;
        if self.peek_char() != Some('/') {
            return Ok(None);
        }
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error(at, "unterminated regular expression")),
                Some('/') => return Ok(Some((out, at, self.pos))),
                Some('\\') => match self.bump() {
                    None => return Err(self.error(at, "unterminated regular expression")),
                    Some('/') => out.push('/'),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    pub(crate) fn set_offset(&mut self, pos: usize) {
        self.pos = pos;
    }
}

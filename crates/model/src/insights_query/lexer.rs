//! Tokenizer. Positions are 1-based character offsets, as shown to users.
//!
//! Quoting (as AWS documents it): identifiers made of letters, digits and
//! `_` (not starting with a digit) may be bare, anything else is written in
//! double quotes; label values are always in single quotes. Inside either
//! kind of quotes a backslash escapes the next character.

use super::QueryError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    /// A bare word: keyword, function name or identifier (the parser decides).
    Word(String),
    /// `"..."`: always an identifier, never a keyword.
    QuotedIdent(String),
    /// `'...'`: a label value.
    Str(String),
    /// A non-negative integer (only `LIMIT` takes one).
    Number(String),
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: usize,
}

impl Token {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Word(w) => format!("'{w}'"),
            TokenKind::QuotedIdent(w) => format!("'\"{w}\"'"),
            TokenKind::Str(s) => format!("the string '{s}'"),
            TokenKind::Number(n) => format!("'{n}'"),
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::Comma => "','".into(),
            TokenKind::Eq => "'='".into(),
            TokenKind::Ne => "'!='".into(),
            TokenKind::End => "the end of the query".into(),
        }
    }
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let pos = i + 1;
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                TokenKind::LParen
            }
            ')' => {
                i += 1;
                TokenKind::RParen
            }
            ',' => {
                i += 1;
                TokenKind::Comma
            }
            '=' => {
                i += 1;
                TokenKind::Eq
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                TokenKind::Ne
            }
            '"' | '\'' => {
                let (text, next) = quoted(&chars, i)?;
                i = next;
                if c == '"' {
                    if text.is_empty() {
                        return Err(QueryError::EmptyIdentifier { pos });
                    }
                    TokenKind::QuotedIdent(text)
                } else {
                    TokenKind::Str(text)
                }
            }
            '0'..='9' => {
                let start = i;
                while chars.get(i).is_some_and(char::is_ascii_alphanumeric) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                if !text.chars().all(|c| c.is_ascii_digit()) {
                    return Err(QueryError::NeedsQuotes { text, pos });
                }
                TokenKind::Number(text)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    i += 1;
                }
                // A bare word running into a character that needs quoting
                // (`AWS/EC2`) gets a message saying so, not "unexpected '/'".
                if chars
                    .get(i)
                    .is_some_and(|c| !c.is_whitespace() && !"(),=!'\"".contains(*c))
                {
                    while chars
                        .get(i)
                        .is_some_and(|c| !c.is_whitespace() && !"(),=".contains(*c))
                    {
                        i += 1;
                    }
                    let text = chars[start..i].iter().collect();
                    return Err(QueryError::NeedsQuotes { text, pos });
                }
                TokenKind::Word(chars[start..i].iter().collect())
            }
            other => return Err(QueryError::UnexpectedChar { ch: other, pos }),
        };
        tokens.push(Token { kind, pos });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        pos: chars.len() + 1,
    });
    Ok(tokens)
}

/// Reads a quoted run starting at the opening quote `chars[open]`; returns
/// the unescaped text and the index after the closing quote.
fn quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let quote = chars[open];
    let mut text = String::new();
    let mut i = open + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(QueryError::UnterminatedQuote {
                    quote,
                    pos: open + 1,
                });
            }
            Some('\\') => match chars.get(i + 1) {
                Some(&escaped) => {
                    text.push(escaped);
                    i += 2;
                }
                None => {
                    return Err(QueryError::UnterminatedQuote {
                        quote,
                        pos: open + 1,
                    });
                }
            },
            Some(&c) if c == quote => return Ok((text, i + 1)),
            Some(&c) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

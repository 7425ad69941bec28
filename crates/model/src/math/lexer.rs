//! Tokenizer for metric-math expressions. Positions are 0-based *character*
//! offsets (not bytes) because they are shown to users in error messages.

use super::ast::BinOp;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    Number(f64),
    /// A bare word: a metric id (`m1`), a function name (`SUM`) or a keyword
    /// (`REPEAT`). The parser decides which from context.
    Word(String),
    /// A double- or single-quoted string (only `METRICS("filter")` uses one).
    Str(String),
    Op(BinOp),
    /// `-`, kept apart from `BinOp::Sub` because it may also be unary.
    Minus,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Character offset of the token's first character.
    pub pos: usize,
}

/// A lexing or parsing failure: message plus the character position it refers to.
#[derive(Debug, PartialEq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub pos: usize,
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '0'..='9' | '.' => {
                let (value, next) = lex_number(&chars, i)?;
                i = next;
                TokenKind::Number(value)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.as_str() {
                    "AND" => TokenKind::Op(BinOp::And),
                    "OR" => TokenKind::Op(BinOp::Or),
                    _ => TokenKind::Word(word),
                }
            }
            '"' | '\'' => {
                let (text, next) = lex_string(&chars, i, c)?;
                i = next;
                TokenKind::Str(text)
            }
            _ => {
                let next = chars.get(i + 1).copied();
                let (kind, len) = match (c, next) {
                    ('<', Some('=')) => (TokenKind::Op(BinOp::Le), 2),
                    ('>', Some('=')) => (TokenKind::Op(BinOp::Ge), 2),
                    ('=', Some('=')) => (TokenKind::Op(BinOp::Eq), 2),
                    ('!', Some('=')) => (TokenKind::Op(BinOp::Ne), 2),
                    ('&', Some('&')) => (TokenKind::Op(BinOp::And), 2),
                    ('|', Some('|')) => (TokenKind::Op(BinOp::Or), 2),
                    ('<', _) => (TokenKind::Op(BinOp::Lt), 1),
                    ('>', _) => (TokenKind::Op(BinOp::Gt), 1),
                    ('+', _) => (TokenKind::Op(BinOp::Add), 1),
                    ('-', _) => (TokenKind::Minus, 1),
                    ('*', _) => (TokenKind::Op(BinOp::Mul), 1),
                    ('/', _) => (TokenKind::Op(BinOp::Div), 1),
                    ('^', _) => (TokenKind::Op(BinOp::Pow), 1),
                    ('(', _) => (TokenKind::LParen, 1),
                    (')', _) => (TokenKind::RParen, 1),
                    ('[', _) => (TokenKind::LBracket, 1),
                    (']', _) => (TokenKind::RBracket, 1),
                    (',', _) => (TokenKind::Comma, 1),
                    _ => {
                        return Err(SyntaxError {
                            message: format!("Unexpected character '{c}'"),
                            pos: i,
                        });
                    }
                };
                i += len;
                kind
            }
        };
        tokens.push(Token { kind, pos: start });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        pos: chars.len(),
    });
    Ok(tokens)
}

/// `12`, `1.5`, `.5`, `1.`, `1e3`, `2.5E-4`. A letter glued to the number
/// (`2m1`, `1e`) is an error rather than two tokens: AWS rejects it too and it
/// is almost always a typo.
fn lex_number(chars: &[char], start: usize) -> Result<(f64, usize), SyntaxError> {
    let digits = |mut i: usize| {
        while chars.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = digits(start);
    let int_digits = i - start;
    let mut frac_digits = 0;
    if chars.get(i) == Some(&'.') {
        let after = digits(i + 1);
        frac_digits = after - (i + 1);
        i = after;
    }
    if int_digits == 0 && frac_digits == 0 {
        return Err(SyntaxError {
            message: "Unexpected character '.'".to_string(),
            pos: start,
        });
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        let end = digits(j);
        if end == j {
            return Err(invalid_number(chars, start, end));
        }
        i = end;
    }
    if chars
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
    {
        let mut end = i;
        while chars
            .get(end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        {
            end += 1;
        }
        return Err(invalid_number(chars, start, end));
    }
    let text: String = chars[start..i].iter().collect();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((v, i)),
        _ => Err(invalid_number(chars, start, i)),
    }
}

fn invalid_number(chars: &[char], start: usize, end: usize) -> SyntaxError {
    let end = end.min(chars.len());
    let text: String = chars[start..end].iter().collect();
    SyntaxError {
        message: format!("Invalid number '{text}'"),
        pos: start,
    }
}

/// A quoted string; the quote character may be escaped with a backslash.
fn lex_string(chars: &[char], start: usize, quote: char) -> Result<(String, usize), SyntaxError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(SyntaxError {
                    message: "Unterminated string".to_string(),
                    pos: start,
                });
            }
            Some('\\') if matches!(chars.get(i + 1), Some(c) if *c == quote || *c == '\\') => {
                if let Some(c) = chars.get(i + 1) {
                    text.push(*c);
                }
                i += 2;
            }
            Some(c) if *c == quote => return Ok((text, i + 1)),
            Some(c) => {
                text.push(*c);
                i += 1;
            }
        }
    }
}

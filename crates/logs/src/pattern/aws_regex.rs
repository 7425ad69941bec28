//! CloudWatch Logs' regular-expression subset (`%…%`), checked against
//! AWS's list and translated into a `regex` crate pattern.
//!
//! AWS allows: ASCII letters and digits; the symbols `: _ # = @ / ; , -` and
//! space; the operators `^ $ ? [ ] { } | \ * + .`; the escapes `\d \D \s \S
//! \w \W \xhh` and a backslash before an operator. Parentheses and multi-byte
//! characters are refused, as AWS refuses them. The classes are translated to
//! their ASCII definitions (AWS: `\w` is `[a-zA-Z_0-9]`) because the `regex`
//! crate's are Unicode-wide.

use regex::{Regex, RegexBuilder};

use super::PatternError;

/// Compiled-program cap: a 1 KB pattern cannot need more, and the cap keeps
/// `{m,n}` repetitions from costing unbounded memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const ALLOWED_SYMBOLS: &[char] = &[':', '_', '#', '=', '@', '/', ';', ',', '-', ' '];

pub(crate) fn compile(body: &str) -> Result<Regex, PatternError> {
    let translated = translate(body)?;
    RegexBuilder::new(&translated)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| PatternError::InvalidRegex {
            regex: body.to_string(),
            reason: first_line(&e.to_string()),
        })
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_string()
}

fn invalid(body: &str, reason: impl Into<String>) -> PatternError {
    PatternError::InvalidRegex {
        regex: body.to_string(),
        reason: reason.into(),
    }
}

fn translate(body: &str) -> Result<String, PatternError> {
    if body.is_empty() {
        return Err(invalid(body, "the regular expression is empty"));
    }
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_ascii() {
            return Err(invalid(body, "multi-byte characters are not supported"));
        }
        match c {
            '(' | ')' => return Err(invalid(body, "the ( and ) operators are not supported")),
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(invalid(body, "a trailing \\ escapes nothing"));
                };
                i += 2;
                match next {
                    'd' => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                    'w' => out.push_str(if in_class {
                        "a-zA-Z_0-9"
                    } else {
                        "[a-zA-Z_0-9]"
                    }),
                    's' => out.push_str(if in_class {
                        r"\t\n\x0B\x0C\r "
                    } else {
                        r"[\t\n\x0B\x0C\r ]"
                    }),
                    'D' => out.push_str(if in_class { r"\D" } else { "[^0-9]" }),
                    'W' => out.push_str(if in_class { r"\W" } else { "[^a-zA-Z_0-9]" }),
                    'S' => out.push_str(if in_class {
                        r"\S"
                    } else {
                        r"[^\t\n\x0B\x0C\r ]"
                    }),
                    't' | 'n' | 'r' => {
                        out.push('\\');
                        out.push(next);
                    }
                    'x' => {
                        let hex: String = chars.iter().skip(i).take(2).collect();
                        if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            return Err(invalid(body, "\\x needs two hexadecimal digits"));
                        }
                        i += 2;
                        out.push_str(r"\x");
                        out.push_str(&hex);
                    }
                    p if p.is_ascii_punctuation() || p == ' ' => {
                        // An escaped operator or symbol stands for itself.
                        out.push_str(&regex::escape(&p.to_string()));
                    }
                    other => {
                        return Err(invalid(
                            body,
                            format!("the escape \\{other} is not supported"),
                        ));
                    }
                }
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // `[]` and `[^]` open with a literal `]`, as in POSIX.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
            }
            '[' => out.push_str(r"\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '{' if !in_class => match repetition(&chars[i + 1..]) {
                Some((quantifier, used)) => {
                    out.push_str(&quantifier);
                    i += used;
                }
                None => out.push_str(r"\{"),
            },
            '^' | '$' | '?' | '|' | '*' | '+' | '.' if !in_class => out.push(c),
            ']' | '}' if !in_class => {
                out.push('\\');
                out.push(c);
            }
            '^' | '$' | '?' | '|' | '*' | '+' | '.' | '{' | '}' => {
                // Inside a class an operator is a literal character.
                out.push('\\');
                out.push(c);
            }
            '-' if in_class => {
                // `--` would be the regex crate's class difference.
                if chars.get(i + 1) == Some(&'-') {
                    out.push_str(r"\-");
                } else {
                    out.push('-');
                }
            }
            c if c.is_ascii_alphanumeric() => out.push(c),
            c if ALLOWED_SYMBOLS.contains(&c) => {
                if in_class && c != ' ' {
                    out.push('\\');
                    out.push(c);
                } else {
                    out.push_str(&regex::escape(&c.to_string()));
                }
            }
            other => {
                return Err(invalid(
                    body,
                    format!("the character '{other}' is not supported"),
                ));
            }
        }
        i += 1;
    }
    if in_class {
        return Err(invalid(body, "a [ character class is not closed"));
    }
    Ok(out)
}

/// Reads `m,n}` / `m}` / `,n}` / `m,}` after a `{` (spaces allowed, as AWS
/// writes `{m, n}`) and returns the quantifier and the characters used.
fn repetition(after: &[char]) -> Option<(String, usize)> {
    let close = after.iter().position(|&c| c == '}')?;
    let inner: String = after[..close].iter().filter(|c| **c != ' ').collect();
    let (min, max) = match inner.split_once(',') {
        Some((min, max)) => (min, Some(max)),
        None => (inner.as_str(), None),
    };
    let digits = |s: &str| s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit());
    if !digits(min) || !max.is_none_or(digits) || (min.is_empty() && max.is_none_or(str::is_empty))
    {
        return None;
    }
    let min = if min.is_empty() { "0" } else { min };
    let quantifier = match max {
        None => format!("{{{min}}}"),
        Some(max) => format!("{{{min},{max}}}"),
    };
    Some((quantifier, close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_operators() {
        let hat = compile("^[hc]at").unwrap();
        assert!(hat.is_match("hat trick") && !hat.is_match("that"));
        let colour = compile("colou?r").unwrap();
        assert!(colour.is_match("color") && colour.is_match("colour"));
        let a = compile("^a{3,5}$").unwrap();
        assert!(
            !a.is_match("aa") && a.is_match("aaa") && a.is_match("aaaaa") && !a.is_match("aaaaaa")
        );
        let upto = compile("^a{,2}$").unwrap();
        assert!(upto.is_match("") && upto.is_match("aa") && !upto.is_match("aaa"));
        let bracket = compile(r"\[.\]").unwrap();
        assert!(bracket.is_match("[a]") && bracket.is_match("[ ]") && !bracket.is_match("[]"));
        let ip = compile(r"10\.10\.0\.1").unwrap();
        assert!(ip.is_match("10.10.0.1") && !ip.is_match("10010,051"));
        assert!(compile("10.10.0.1").unwrap().is_match("10010,051"));
        assert!(compile(r"\x3A").unwrap().is_match(":"));
        assert!(compile(r"\x28").unwrap().is_match("("));
        assert!(compile(r"\w").unwrap().is_match("_") && !compile(r"\w").unwrap().is_match("é"));
        assert!(
            compile(r"^\D$").unwrap().is_match("x") && !compile(r"^\D$").unwrap().is_match("7")
        );
        let alt = compile("^starting|^initializing|^shutting down").unwrap();
        assert!(alt.is_match("shutting down now") && !alt.is_match("skipping initializing"));
    }

    #[test]
    fn refused_like_aws() {
        assert!(compile("something!").is_err());
        assert!(compile("(a)").is_err());
        assert!(compile("é").is_err());
        assert!(compile("").is_err());
        assert!(compile("[abc").is_err());
        assert!(compile("abc\\").is_err());
    }
}

//! Unstructured patterns: terms, `"quoted phrases"`, `?optional` terms,
//! `-excluded` terms, and the match-everything patterns (blank, `""`, `" "`).
//!
//! AWS: every plain term must appear (case-sensitive substring) and no
//! excluded term may; `?` terms match when any of them appears, but "if you
//! combine `?` with other filter patterns, all question mark terms will be
//! ignored". Terms with characters other than letters, digits and `_` are
//! meant to be quoted; unquoted ones are still taken literally here (AWS
//! documents no splitting), which accepts everything AWS accepts.

use memchr::memmem::Finder;

use super::PatternError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Required,
    Excluded,
    Optional,
}

#[derive(Clone, Debug)]
pub(crate) struct TextPattern {
    required: Vec<Finder<'static>>,
    excluded: Vec<Finder<'static>>,
    optional: Vec<Finder<'static>>,
}

impl TextPattern {
    pub(crate) fn parse(src: &str) -> Result<TextPattern, PatternError> {
        let mut pattern = TextPattern {
            required: Vec::new(),
            excluded: Vec::new(),
            optional: Vec::new(),
        };
        let bytes = src.as_bytes();
        let mut i = 0;
        // The old AWS guide writes `"ERROR" - "Exiting"`: a lone `-` applies
        // to the next term.
        let mut pending_exclusion = false;
        while i < bytes.len() {
            if bytes[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let mut role = Role::Required;
            if pending_exclusion {
                role = Role::Excluded;
                pending_exclusion = false;
            } else if bytes[i] == b'?' {
                role = Role::Optional;
                i += 1;
            } else if bytes[i] == b'-' {
                role = Role::Excluded;
                i += 1;
                if i >= bytes.len() || bytes[i].is_ascii_whitespace() {
                    pending_exclusion = true;
                    continue;
                }
            }
            let term = if bytes.get(i) == Some(&b'"') {
                let start = i;
                let (term, next) = quoted_term(src, i + 1).ok_or(PatternError::Unterminated {
                    what: "quoted term",
                    at: start,
                })?;
                i = next;
                term
            } else {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                src.get(start..i).unwrap_or("").to_string()
            };
            // A blank phrase (`""`, `" "`) matches everything: AWS's
            // "match everything" pattern is `" "`.
            if term.trim().is_empty() {
                continue;
            }
            let finder = Finder::new(term.as_bytes()).into_owned();
            match role {
                Role::Required => pattern.required.push(finder),
                Role::Excluded => pattern.excluded.push(finder),
                Role::Optional => pattern.optional.push(finder),
            }
        }
        if pending_exclusion {
            return Err(PatternError::Unexpected {
                found: "end of pattern".into(),
                at: src.len(),
                expected: "a term after '-'",
            });
        }
        if !pattern.required.is_empty() || !pattern.excluded.is_empty() {
            pattern.optional.clear();
        }
        Ok(pattern)
    }

    pub(crate) fn matches(&self, message: &str) -> bool {
        let hay = message.as_bytes();
        if !self.optional.is_empty() {
            return self.optional.iter().any(|f| f.find(hay).is_some());
        }
        self.required.iter().all(|f| f.find(hay).is_some())
            && !self.excluded.iter().any(|f| f.find(hay).is_some())
    }
}

/// The term inside quotes starting at `from` (just past the opening quote)
/// and the index after the closing quote. `\"` is an escaped quote.
fn quoted_term(src: &str, from: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = src.get(from..)?.char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Some((out, from + off + 1)),
            '\\' => match chars.clone().next() {
                Some((_, '"')) => {
                    chars.next();
                    out.push('"');
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    None
}

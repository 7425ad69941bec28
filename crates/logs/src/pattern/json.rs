//! JSON patterns: `{ $.a.b[0] = "x" && ($.n > 3 || $.flag IS TRUE) }`.
//!
//! Precedence is AWS's: `()` > `&&` > `||`. A selector must reach a value
//! node (string, number, boolean, null); one that reaches an object or an
//! array makes the comparison false, both for `=` and `!=`, as AWS
//! documents. A message that is not a JSON object matches nothing.

use super::PatternError;
use super::json_doc::Node;
use super::lexer::Cursor;
use super::value::{CmpOp, Condition};

/// Nesting bound for parentheses: keeps parsing and evaluation off deep
/// recursion on hostile input.
const MAX_DEPTH: usize = 32;
/// AWS quotas: one wildcard per selector, three per pattern, two regexes.
const MAX_WILDCARDS: usize = 3;
pub(crate) const MAX_REGEXES: usize = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
    /// `.*` or `[*]`: any member of an object or element of an array.
    Any,
}

/// A property selector: `$.a.b[0]`, `$.['cluster.name']`, `$.list[*].id`.
#[derive(Clone, Debug)]
pub(crate) struct Selector {
    pub(crate) text: String,
    pub(crate) steps: Vec<Step>,
}

impl Selector {
    /// Parses a selector at the cursor (on the `$`).
    pub(crate) fn read(cur: &mut Cursor<'_>) -> Result<Selector, PatternError> {
        let start = cur.rest();
        let start_pos = cur.pos();
        if !cur.eat("$") {
            return Err(cur.unexpected("a property selector starting with '$.'"));
        }
        let mut steps = Vec::new();
        loop {
            if cur.eat(".") {
                if cur.eat("*") {
                    steps.push(Step::Any);
                } else if cur.peek() == Some(b'[') {
                    // `$.['cluster.name']`: the bracket follows the dot.
                    continue;
                } else {
                    let name = cur.take_while(|c| c.is_alphanumeric() || c == '_' || c == '-');
                    if name.is_empty() {
                        return Err(cur.unexpected("a property name after '.'"));
                    }
                    steps.push(Step::Key(name.to_string()));
                }
            } else if cur.eat("[") {
                cur.skip_ws();
                match cur.peek() {
                    Some(b'*') => {
                        cur.bump();
                        steps.push(Step::Any);
                    }
                    Some(q @ (b'\'' | b'"')) => {
                        cur.bump();
                        let key = cur.take_while(|c| c as u32 != u32::from(q));
                        if !cur.eat(if q == b'\'' { "'" } else { "\"" }) {
                            return Err(PatternError::Unterminated {
                                what: "quoted property name",
                                at: cur.pos(),
                            });
                        }
                        steps.push(Step::Key(key.to_string()));
                    }
                    _ => {
                        let digits = cur.take_while(|c| c.is_ascii_digit());
                        let index = digits
                            .parse::<usize>()
                            .map_err(|_| cur.unexpected("an array index, '*' or a quoted name"))?;
                        steps.push(Step::Index(index));
                    }
                }
                cur.skip_ws();
                if !cur.eat("]") {
                    return Err(cur.unexpected("']'"));
                }
            } else {
                break;
            }
        }
        if steps.is_empty() {
            return Err(PatternError::Unexpected {
                found: "'$'".into(),
                at: start_pos,
                expected: "a property after '$' (as in '$.field')",
            });
        }
        if steps.iter().filter(|s| **s == Step::Any).count() > 1 {
            return Err(PatternError::TooManyWildcards {
                limit: "one wildcard per property selector",
            });
        }
        let used = cur.pos() - start_pos;
        Ok(Selector {
            text: start.get(..used).unwrap_or("").to_string(),
            steps,
        })
    }

    /// Parses a whole string as a selector (metric values, dimensions).
    pub(crate) fn parse_exact(s: &str) -> Option<Selector> {
        let mut cur = Cursor::new(s);
        let sel = Selector::read(&mut cur).ok()?;
        cur.is_at_end().then_some(sel)
    }

    fn has_wildcard(&self) -> bool {
        self.steps.contains(&Step::Any)
    }

    /// Calls `visit` on every node the selector reaches until it returns
    /// true; reports whether it did.
    pub(crate) fn any(&self, root: &Node<'_>, visit: &mut dyn FnMut(&Node<'_>) -> bool) -> bool {
        walk(root, &self.steps, &mut |v| visit(v))
    }

    /// The first value node (not object or array) the selector reaches.
    pub(crate) fn first_scalar<'v, 'm>(&self, root: &'v Node<'m>) -> Option<&'v Node<'m>> {
        let mut found = None;
        walk(root, &self.steps, &mut |v| {
            if v.is_container() {
                false
            } else {
                found = Some(v);
                true
            }
        });
        found
    }
}

fn walk<'v, 'm>(
    node: &'v Node<'m>,
    steps: &[Step],
    visit: &mut dyn FnMut(&'v Node<'m>) -> bool,
) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return visit(node);
    };
    match (step, node) {
        (Step::Key(k), Node::Object(_)) => {
            node.get(k).is_some_and(|child| walk(child, rest, visit))
        }
        (Step::Index(i), Node::Array(items)) => {
            items.get(*i).is_some_and(|child| walk(child, rest, visit))
        }
        (Step::Any, Node::Object(members)) => {
            members.iter().any(|(_, child)| walk(child, rest, visit))
        }
        (Step::Any, Node::Array(items)) => items.iter().any(|child| walk(child, rest, visit)),
        _ => false,
    }
}

#[derive(Clone, Debug)]
enum Test {
    Compare(Condition),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

#[derive(Clone, Debug)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Leaf { selector: usize, test: Test },
}

#[derive(Clone, Debug)]
pub(crate) struct JsonPattern {
    /// Every selector the pattern names, in order of appearance (repeats
    /// kept once): these are the values TestMetricFilter reports.
    pub(crate) selectors: Vec<Selector>,
    expr: Expr,
}

struct Parser<'a> {
    cur: Cursor<'a>,
    selectors: Vec<Selector>,
    regexes: usize,
    wildcards: usize,
}

impl JsonPattern {
    /// Parses `{ … }`; `src` is already trimmed and starts with `{`.
    pub(crate) fn parse(src: &str) -> Result<JsonPattern, PatternError> {
        let mut p = Parser {
            cur: Cursor::new(src),
            selectors: Vec::new(),
            regexes: 0,
            wildcards: 0,
        };
        if !p.cur.eat("{") {
            return Err(p.cur.unexpected("'{'"));
        }
        let expr = p.or(0)?;
        p.cur.skip_ws();
        if !p.cur.eat("}") {
            return Err(p.cur.unexpected("'&&', '||' or the closing '}'"));
        }
        p.cur.skip_ws();
        if !p.cur.is_at_end() {
            return Err(p.cur.unexpected("nothing after the closing '}'"));
        }
        if p.regexes > MAX_REGEXES {
            return Err(PatternError::TooManyRegexes { limit: MAX_REGEXES });
        }
        if p.wildcards > MAX_WILDCARDS {
            return Err(PatternError::TooManyWildcards {
                limit: "three wildcard selectors per filter pattern",
            });
        }
        Ok(JsonPattern {
            selectors: p.selectors,
            expr,
        })
    }

    /// Parses the message once; `None` if it is not a JSON object.
    pub(crate) fn document(message: &str) -> Option<Node<'_>> {
        Node::parse_object(message)
    }

    pub(crate) fn eval(&self, doc: &Node<'_>) -> bool {
        self.eval_expr(&self.expr, doc)
    }

    fn eval_expr(&self, expr: &Expr, doc: &Node<'_>) -> bool {
        match expr {
            Expr::Or(parts) => parts.iter().any(|e| self.eval_expr(e, doc)),
            Expr::And(parts) => parts.iter().all(|e| self.eval_expr(e, doc)),
            Expr::Leaf { selector, test } => {
                let Some(sel) = self.selectors.get(*selector) else {
                    return false;
                };
                match test {
                    Test::NotExists => !sel.any(doc, &mut |_| true),
                    Test::IsNull => sel.any(doc, &mut |v| matches!(v, Node::Null)),
                    Test::IsTrue => sel.any(doc, &mut |v| matches!(v, Node::Bool(true))),
                    Test::IsFalse => sel.any(doc, &mut |v| matches!(v, Node::Bool(false))),
                    Test::Compare(cond) => sel.any(doc, &mut |v| compare(cond, v)),
                }
            }
        }
    }
}

fn compare(cond: &Condition, v: &Node<'_>) -> bool {
    match v {
        Node::String(s) => cond.test_text(s),
        Node::Number(n) => cond.test_number(n.as_f64(), &n.to_string()),
        Node::Bool(b) => cond.test_text(if *b { "true" } else { "false" }),
        Node::Null => cond.test_null(),
        Node::Object(_) | Node::Array(_) => false,
    }
}

impl Parser<'_> {
    fn or(&mut self, depth: usize) -> Result<Expr, PatternError> {
        let mut parts = vec![self.and(depth)?];
        loop {
            self.cur.skip_ws();
            if !self.cur.eat("||") {
                break;
            }
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, PatternError> {
        let mut parts = vec![self.primary(depth)?];
        loop {
            self.cur.skip_ws();
            if !self.cur.eat("&&") {
                break;
            }
            parts.push(self.primary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, PatternError> {
        self.cur.skip_ws();
        if self.cur.eat("(") {
            if depth >= MAX_DEPTH {
                return Err(PatternError::TooDeep { limit: MAX_DEPTH });
            }
            let inner = self.or(depth + 1)?;
            self.cur.skip_ws();
            if !self.cur.eat(")") {
                return Err(self.cur.unexpected("')'"));
            }
            return Ok(inner);
        }
        let selector = Selector::read(&mut self.cur)?;
        if selector.has_wildcard() {
            self.wildcards += 1;
        }
        let index = match self.selectors.iter().position(|s| s.text == selector.text) {
            Some(i) => i,
            None => {
                self.selectors.push(selector);
                self.selectors.len() - 1
            }
        };
        self.cur.skip_ws();
        let test = if self.cur.eat_keyword("IS") {
            self.cur.skip_ws();
            if self.cur.eat_keyword("NULL") {
                Test::IsNull
            } else if self.cur.eat_keyword("TRUE") {
                Test::IsTrue
            } else if self.cur.eat_keyword("FALSE") {
                Test::IsFalse
            } else if self.cur.eat_keyword("NOT") {
                return Err(PatternError::Unsupported { what: "IS NOT" });
            } else {
                return Err(self.cur.unexpected("NULL, TRUE or FALSE after IS"));
            }
        } else if self.cur.eat_keyword("NOT") {
            self.cur.skip_ws();
            if !self.cur.eat_keyword("EXISTS") {
                return Err(self.cur.unexpected("EXISTS after NOT"));
            }
            Test::NotExists
        } else if self.cur.eat_keyword("EXISTS") {
            return Err(PatternError::Unsupported { what: "EXISTS" });
        } else {
            let Some(op) = CmpOp::read(&mut self.cur) else {
                return Err(self
                    .cur
                    .unexpected("an operator (=, !=, <, <=, >, >=, IS, NOT EXISTS)"));
            };
            let cond = Condition::read(op, &mut self.cur, &mut self.regexes)?;
            Test::Compare(cond)
        };
        Ok(Expr::Leaf {
            selector: index,
            test,
        })
    }
}

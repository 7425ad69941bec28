//! The query text to commands: a recursive-descent parser over [`Lexer`].
//!
//! Total by construction: every input either parses or yields a
//! [`QueryError`]; nesting is capped so hostile input cannot exhaust the stack.

use std::collections::HashMap;

use regex::Regex;

use super::QueryError;
use super::lexer::{Lexer, Spanned, Tok};
use super::value::{Owned, Period, Unit, Value};

/// AWS's limit on a query string's length (StartQuery's `queryString`).
pub(crate) const MAX_QUERY_LEN: usize = 10_000;
/// How deep parentheses, `not`s and operators may nest. A chain `a or b or
/// c` nests too (it is a tree), and evaluating or dropping a tree recurses,
/// so every operator counts.
const MAX_DEPTH: usize = 256;
/// What one nested expression counts toward [`MAX_DEPTH`]: at most 32 levels
/// of parentheses.
const NESTED_EXPR_WEIGHT: usize = 8;
/// The largest `limit` AWS accepts, and the rows a query returns without one.
pub(crate) const MAX_ROWS: usize = 10_000;
/// Compiled-regex size cap: a query's pattern must not eat the server's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub(crate) type FieldId = usize;

/// The fields every event has, in slot order.
pub(crate) const TIMESTAMP: FieldId = 0;
pub(crate) const MESSAGE: FieldId = 1;
pub(crate) const LOG_STREAM: FieldId = 2;
pub(crate) const LOG: FieldId = 3;
pub(crate) const INGESTION_TIME: FieldId = 4;
const BUILTINS: [&str; 5] = [
    "@timestamp",
    "@message",
    "@logStream",
    "@log",
    "@ingestionTime",
];

/// Field names, interned: expressions refer to fields by slot number.
#[derive(Clone, Debug)]
pub(crate) struct Symbols {
    pub names: Vec<String>,
    index: HashMap<String, FieldId>,
}

impl Symbols {
    fn new() -> Self {
        let mut s = Symbols {
            names: Vec::new(),
            index: HashMap::new(),
        };
        for b in BUILTINS {
            s.intern(b);
        }
        s
    }

    pub(crate) fn intern(&mut self, name: &str) -> FieldId {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len();
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        id
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<FieldId> {
        self.index.get(name).copied()
    }

    pub(crate) fn is_builtin(id: FieldId) -> bool {
        id < BUILTINS.len()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug)]
pub(crate) enum Pattern {
    /// `like "text"`: the value contains the text (case-sensitive).
    Substring(String),
    Regex(Regex),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Strlen,
    ToLower,
    ToUpper,
    Concat,
    Trim,
    Ltrim,
    Rtrim,
    Substr,
    Replace,
    StrContains,
    Abs,
    Ceil,
    Floor,
    Round,
    Sqrt,
    Log,
    Greatest,
    Least,
    Bin,
    DateFloor,
    DateCeil,
    FromMillis,
    ToMillis,
    IsPresent,
    IsEmpty,
    IsBlank,
}

impl Func {
    fn by_name(lower: &str) -> Option<(Func, usize, usize)> {
        // (function, fewest arguments, most arguments)
        Some(match lower {
            "strlen" => (Func::Strlen, 1, 1),
            "tolower" => (Func::ToLower, 1, 1),
            "toupper" => (Func::ToUpper, 1, 1),
            "concat" => (Func::Concat, 1, 64),
            "trim" => (Func::Trim, 1, 1),
            "ltrim" => (Func::Ltrim, 1, 1),
            "rtrim" => (Func::Rtrim, 1, 1),
            "substr" => (Func::Substr, 2, 3),
            "replace" => (Func::Replace, 3, 3),
            "strcontains" => (Func::StrContains, 2, 2),
            "abs" => (Func::Abs, 1, 1),
            "ceil" => (Func::Ceil, 1, 1),
            "floor" => (Func::Floor, 1, 1),
            "round" => (Func::Round, 1, 1),
            "sqrt" => (Func::Sqrt, 1, 1),
            "log" => (Func::Log, 1, 1),
            "greatest" => (Func::Greatest, 1, 64),
            "least" => (Func::Least, 1, 64),
            "bin" => (Func::Bin, 1, 1),
            "datefloor" => (Func::DateFloor, 2, 2),
            "dateceil" => (Func::DateCeil, 2, 2),
            "frommillis" => (Func::FromMillis, 1, 1),
            "tomillis" => (Func::ToMillis, 1, 1),
            "ispresent" => (Func::IsPresent, 1, 1),
            "isempty" => (Func::IsEmpty, 1, 1),
            "isblank" => (Func::IsBlank, 1, 1),
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Field(FieldId),
    Lit(Owned),
    Period(Period),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Like {
        subject: Box<Expr>,
        pattern: Pattern,
        negated: bool,
    },
    In {
        subject: Box<Expr>,
        set: Vec<Expr>,
        negated: bool,
    },
    Call(Func, Vec<Expr>),
}

/// `expr [as name]` in `fields` or `stats ... by`: the value and the field it
/// lands in (its alias, or the expression's own text).
#[derive(Clone, Debug)]
pub(crate) struct Projection {
    pub expr: Expr,
    pub target: FieldId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggFunc {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    Pct,
    Earliest,
    Latest,
}

impl AggFunc {
    fn by_name(lower: &str) -> Option<AggFunc> {
        Some(match lower {
            "count" => AggFunc::Count,
            "count_distinct" => AggFunc::CountDistinct,
            "sum" => AggFunc::Sum,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "pct" | "percentile" => AggFunc::Pct,
            "earliest" => AggFunc::Earliest,
            "latest" => AggFunc::Latest,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Aggregate {
    pub func: AggFunc,
    /// `None` for `count(*)` / `count()`.
    pub arg: Option<Expr>,
    /// The percentile of `pct(f, 95)`.
    pub percentile: f64,
    pub target: FieldId,
}

#[derive(Clone, Debug)]
pub(crate) struct SortKey {
    pub expr: Expr,
    pub desc: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct ParseSpec {
    pub source: Expr,
    pub regex: Regex,
    /// (capture group index, field it fills)
    pub captures: Vec<(usize, FieldId)>,
}

#[derive(Clone, Debug)]
pub(crate) enum Command {
    Fields(Vec<Projection>),
    Display(Vec<FieldId>),
    Filter(Expr),
    Stats {
        aggregates: Vec<Aggregate>,
        by: Vec<Projection>,
    },
    Sort(Vec<SortKey>),
    Limit(usize),
    Parse(ParseSpec),
    Dedup(Vec<FieldId>),
}

pub(crate) struct Parsed {
    pub commands: Vec<Command>,
    pub symbols: Symbols,
}

pub(crate) fn parse(src: &str) -> Result<Parsed, QueryError> {
    if src.chars().count() > MAX_QUERY_LEN {
        return Err(QueryError::TooLong { max: MAX_QUERY_LEN });
    }
    let mut p = Parser {
        lex: Lexer::new(src),
        peeked: None,
        last_end: 0,
        depth: 0,
        symbols: Symbols::new(),
    };
    let mut commands = Vec::new();
    loop {
        commands.push(p.command()?);
        let t = p.bump()?;
        match t.tok {
            Tok::Pipe => continue,
            Tok::End => break,
            other => {
                return Err(p
                    .lex
                    .error(t.at, format!("unexpected symbol '{}'", other.describe())));
            }
        }
    }
    Ok(Parsed {
        commands,
        symbols: p.symbols,
    })
}

struct Parser<'q> {
    lex: Lexer<'q>,
    peeked: Option<Spanned>,
    last_end: usize,
    depth: usize,
    symbols: Symbols,
}

fn keyword(tok: &Tok, word: &str) -> bool {
    matches!(tok, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
}

impl<'q> Parser<'q> {
    fn peek(&mut self) -> Result<&Tok, QueryError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex.next()?);
        }
        match &self.peeked {
            Some(s) => Ok(&s.tok),
            None => unreachable_end(),
        }
    }

    fn peek_at(&mut self) -> Result<usize, QueryError> {
        self.peek()?;
        Ok(self.peeked.as_ref().map_or(0, |s| s.at))
    }

    fn bump(&mut self) -> Result<Spanned, QueryError> {
        let t = match self.peeked.take() {
            Some(t) => t,
            None => self.lex.next()?,
        };
        if t.tok != Tok::End {
            self.last_end = t.end;
        }
        Ok(t)
    }

    fn eat_keyword(&mut self, word: &str) -> Result<bool, QueryError> {
        if keyword(self.peek()?, word) {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn eat(&mut self, tok: &Tok) -> Result<bool, QueryError> {
        if self.peek()? == tok {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), QueryError> {
        let t = self.bump()?;
        if &t.tok == tok {
            Ok(())
        } else {
            Err(self.unexpected(&t, &format!("expected '{}'", tok.describe())))
        }
    }

    fn unexpected(&self, t: &Spanned, hint: &str) -> QueryError {
        self.lex.error(
            t.at,
            format!("unexpected symbol '{}' ({hint})", t.tok.describe()),
        )
    }

    /// A regex literal next, if any. A token already peeked is given back to
    /// the lexer, which re-reads the text as a regex.
    fn regex(&mut self) -> Result<Option<(Regex, usize)>, QueryError> {
        if let Some(p) = self.peeked.take() {
            self.lex.set_offset(p.at);
        }
        let Some((text, at, end)) = self.lex.regex()? else {
            return Ok(None);
        };
        self.last_end = end;
        Ok(Some((self.compile(&text, at)?, at)))
    }

    fn compile(&self, pattern: &str, at: usize) -> Result<Regex, QueryError> {
        regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                // The regex crate's message spans several lines; its last
                // line names the problem.
                let msg = e.to_string();
                let last = msg.lines().last().unwrap_or("invalid").trim().to_string();
                self.lex
                    .error(at, format!("invalid regular expression: {last}"))
            })
    }

    /// Consumes a parenthesised argument list (its `(` next), balanced.
    fn skip_call(&mut self) -> Result<(), QueryError> {
        self.expect(&Tok::LParen)?;
        let mut depth = 1usize;
        while depth > 0 {
            let t = self.bump()?;
            match t.tok {
                Tok::LParen => depth += 1,
                Tok::RParen => depth -= 1,
                Tok::End => return Err(self.unexpected(&t, "expected ')'")),
                _ => {}
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.enter_n(1)
    }

    fn enter_n(&mut self, n: usize) -> Result<(), QueryError> {
        self.depth += n;
        if self.depth > MAX_DEPTH {
            let at = self.last_end;
            return Err(self.lex.error(at, "expression nested too deeply"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn leave_n(&mut self, n: usize) {
        self.depth = self.depth.saturating_sub(n);
    }

    fn text(&self, start: usize) -> String {
        self.lex
            .src()
            .get(start..self.last_end)
            .unwrap_or("")
            .trim()
            .to_string()
    }

    fn command(&mut self) -> Result<Command, QueryError> {
        let t = self.bump()?;
        let Tok::Ident(word) = &t.tok else {
            return Err(self.unexpected(&t, "expected a command"));
        };
        match word.to_ascii_lowercase().as_str() {
            "fields" => Ok(Command::Fields(self.projections()?)),
            "display" => Ok(Command::Display(self.names()?)),
            "filter" => Ok(Command::Filter(self.expr()?)),
            "stats" => self.stats(),
            "sort" => self.sort(),
            "limit" => {
                let n = self.bump()?;
                match n.tok {
                    Tok::Num(v) if v.fract() == 0.0 && v >= 1.0 && v <= MAX_ROWS as f64 => {
                        Ok(Command::Limit(v as usize))
                    }
                    _ => Err(self.lex.error(
                        n.at,
                        format!("limit must be a whole number from 1 to {MAX_ROWS}"),
                    )),
                }
            }
            "parse" => self.parse_command(),
            "dedup" => Ok(Command::Dedup(self.names()?)),
            other => Err(self.lex.error(t.at, format!("unknown command '{other}'"))),
        }
    }

    fn name(&mut self) -> Result<FieldId, QueryError> {
        let t = self.bump()?;
        match &t.tok {
            Tok::Ident(s) | Tok::Quoted(s) if !s.is_empty() => Ok(self.symbols.intern(s)),
            _ => Err(self.unexpected(&t, "expected a field name")),
        }
    }

    fn names(&mut self) -> Result<Vec<FieldId>, QueryError> {
        let mut out = vec![self.name()?];
        while self.eat(&Tok::Comma)? {
            out.push(self.name()?);
        }
        Ok(out)
    }

    fn projection(&mut self) -> Result<Projection, QueryError> {
        let start = self.peek_at()?;
        let expr = self.expr()?;
        let target = if self.eat_keyword("as")? {
            self.name()?
        } else if let Expr::Field(id) = expr {
            id
        } else {
            let text = self.text(start);
            self.symbols.intern(&text)
        };
        Ok(Projection { expr, target })
    }

    fn projections(&mut self) -> Result<Vec<Projection>, QueryError> {
        let mut out = vec![self.projection()?];
        while self.eat(&Tok::Comma)? {
            out.push(self.projection()?);
        }
        Ok(out)
    }

    fn stats(&mut self) -> Result<Command, QueryError> {
        let mut aggregates = vec![self.aggregate()?];
        while self.eat(&Tok::Comma)? {
            aggregates.push(self.aggregate()?);
        }
        let by = if self.eat_keyword("by")? {
            self.projections()?
        } else {
            Vec::new()
        };
        Ok(Command::Stats { aggregates, by })
    }

    fn aggregate(&mut self) -> Result<Aggregate, QueryError> {
        let start = self.peek_at()?;
        let t = self.bump()?;
        let func = match &t.tok {
            Tok::Ident(s) => AggFunc::by_name(&s.to_ascii_lowercase()),
            _ => None,
        };
        let Some(func) = func else {
            return Err(self.unexpected(&t, "expected an aggregate function such as count(*)"));
        };
        self.expect(&Tok::LParen)?;
        let mut arg = None;
        let mut percentile = 0.0;
        if func == AggFunc::Count && (self.eat(&Tok::Star)? || self.peek()? == &Tok::RParen) {
            // count(*) and count() both count events.
        } else {
            arg = Some(self.expr()?);
        }
        if func == AggFunc::Pct {
            self.expect(&Tok::Comma)?;
            let n = self.bump()?;
            match n.tok {
                Tok::Num(p) if (0.0..=100.0).contains(&p) => percentile = p,
                _ => {
                    return Err(self.lex.error(n.at, "pct needs a percentile from 0 to 100"));
                }
            }
        }
        self.expect(&Tok::RParen)?;
        let target = if self.eat_keyword("as")? {
            self.name()?
        } else {
            let text = self.text(start);
            self.symbols.intern(&text)
        };
        Ok(Aggregate {
            func,
            arg,
            percentile,
            target,
        })
    }

    fn sort(&mut self) -> Result<Command, QueryError> {
        let mut keys = Vec::new();
        loop {
            let expr = self.expr()?;
            let desc = if self.eat_keyword("desc")? {
                true
            } else {
                self.eat_keyword("asc")?;
                false
            };
            keys.push(SortKey { expr, desc });
            if !self.eat(&Tok::Comma)? {
                break;
            }
        }
        Ok(Command::Sort(keys))
    }

    fn parse_command(&mut self) -> Result<Command, QueryError> {
        // `parse "glob" as ...` and `parse /regex/` read @message.
        let source = match self.peek()? {
            Tok::Ident(_) | Tok::Quoted(_) => Expr::Field(self.name()?),
            _ => Expr::Field(MESSAGE),
        };
        if let Some((regex, at)) = self.regex()? {
            let mut captures = Vec::new();
            for (i, name) in regex.capture_names().enumerate() {
                if let Some(name) = name {
                    captures.push((i, self.symbols.intern(name)));
                }
            }
            if self.eat_keyword("as")? {
                // AWS names regex captures in the pattern; a list after `as`
                // renames the groups in order.
                let names = self.names()?;
                let groups = regex.captures_len().saturating_sub(1);
                if names.len() != groups {
                    return Err(self.lex.error(
                        at,
                        format!(
                            "the pattern has {groups} groups but {} names follow 'as'",
                            names.len()
                        ),
                    ));
                }
                captures = names
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| (i + 1, f))
                    .collect();
            }
            if captures.is_empty() {
                return Err(self.lex.error(
                    at,
                    "the regular expression names no fields: use (?<name>...)",
                ));
            }
            return Ok(Command::Parse(ParseSpec {
                source,
                regex,
                captures,
            }));
        }
        let t = self.bump()?;
        let Tok::Str(glob) = &t.tok else {
            return Err(self.unexpected(&t, "expected a \"glob\" or /regex/ pattern"));
        };
        let glob = glob.clone();
        let stars = glob.matches('*').count();
        if stars == 0 {
            return Err(self
                .lex
                .error(t.at, "the glob pattern has no '*' to capture"));
        }
        if !self.eat_keyword("as")? {
            let at = self.peek_at()?;
            return Err(self
                .lex
                .error(at, "expected 'as' and field names after the glob"));
        }
        let names = self.names()?;
        if names.len() != stars {
            return Err(self.lex.error(
                t.at,
                format!(
                    "the glob has {stars} '*' but {} names follow 'as'",
                    names.len()
                ),
            ));
        }
        let regex = self.compile(&glob_to_regex(&glob), t.at)?;
        let captures = names
            .into_iter()
            .enumerate()
            .map(|(i, f)| (i + 1, f))
            .collect();
        Ok(Command::Parse(ParseSpec {
            source,
            regex,
            captures,
        }))
    }

    fn expr(&mut self) -> Result<Expr, QueryError> {
        // A nested expression (parentheses, an argument) costs the parser ten
        // stack frames, an operator in a chain one: weigh them so.
        self.enter_n(NESTED_EXPR_WEIGHT)?;
        let out = self.or_expr();
        self.leave_n(NESTED_EXPR_WEIGHT);
        out
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and_expr()?;
        let mut chained = 0;
        while self.eat_keyword("or")? {
            self.enter()?;
            chained += 1;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        self.leave_n(chained);
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not_expr()?;
        let mut chained = 0;
        while self.eat_keyword("and")? {
            self.enter()?;
            chained += 1;
            let right = self.not_expr()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        self.leave_n(chained);
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, QueryError> {
        if self.eat_keyword("not")? {
            self.enter()?;
            let inner = self.not_expr();
            self.leave();
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.cmp_expr()
    }

    fn cmp_expr(&mut self) -> Result<Expr, QueryError> {
        let left = self.add_expr()?;
        let op = match self.peek()? {
            Tok::Eq => Some(CmpOp::Eq),
            Tok::Ne => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump()?;
            let right = self.add_expr()?;
            return Ok(Expr::Cmp(op, Box::new(left), Box::new(right)));
        }
        if self.peek()? == &Tok::Match {
            self.bump()?;
            return self.like(left, false);
        }
        let negated = self.eat_keyword("not")?;
        if self.eat_keyword("like")? {
            return self.like(left, negated);
        }
        if self.eat_keyword("in")? {
            return self.in_set(left, negated);
        }
        if negated {
            let at = self.peek_at()?;
            return Err(self.lex.error(at, "expected 'like' or 'in' after 'not'"));
        }
        Ok(left)
    }

    fn like(&mut self, subject: Expr, negated: bool) -> Result<Expr, QueryError> {
        let pattern = if let Some((re, _)) = self.regex()? {
            Pattern::Regex(re)
        } else {
            let t = self.bump()?;
            match t.tok {
                Tok::Str(s) => Pattern::Substring(s),
                _ => return Err(self.unexpected(&t, "expected a \"string\" or /regex/")),
            }
        };
        Ok(Expr::Like {
            subject: Box::new(subject),
            pattern,
            negated,
        })
    }

    fn in_set(&mut self, subject: Expr, negated: bool) -> Result<Expr, QueryError> {
        self.expect(&Tok::LBracket)?;
        let mut set = Vec::new();
        if !self.eat(&Tok::RBracket)? {
            loop {
                set.push(self.add_expr()?);
                if self.eat(&Tok::RBracket)? {
                    break;
                }
                self.expect(&Tok::Comma)?;
            }
        }
        Ok(Expr::In {
            subject: Box::new(subject),
            set,
            negated,
        })
    }

    fn add_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.mul_expr()?;
        let mut chained = 0;
        loop {
            let op = match self.peek()? {
                Tok::Plus => ArithOp::Add,
                Tok::Minus => ArithOp::Sub,
                _ => {
                    self.leave_n(chained);
                    return Ok(left);
                }
            };
            self.bump()?;
            self.enter()?;
            chained += 1;
            let right = self.mul_expr()?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn mul_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.pow_expr()?;
        let mut chained = 0;
        loop {
            let op = match self.peek()? {
                Tok::Star => ArithOp::Mul,
                Tok::Slash => ArithOp::Div,
                Tok::Percent => ArithOp::Rem,
                _ => {
                    self.leave_n(chained);
                    return Ok(left);
                }
            };
            self.bump()?;
            self.enter()?;
            chained += 1;
            let right = self.pow_expr()?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn pow_expr(&mut self) -> Result<Expr, QueryError> {
        let base = self.unary()?;
        if self.eat(&Tok::Caret)? {
            self.enter()?;
            let exp = self.pow_expr();
            self.leave();
            return Ok(Expr::Arith(ArithOp::Pow, Box::new(base), Box::new(exp?)));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.eat(&Tok::Minus)? {
            self.enter()?;
            let inner = self.unary();
            self.leave();
            return Ok(Expr::Neg(Box::new(inner?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let t = self.bump()?;
        match t.tok {
            Tok::Num(n) => Ok(Expr::Lit(Value::Num(n))),
            Tok::Str(s) => Ok(Expr::Lit(Value::Str(s.into()))),
            Tok::Duration(count, unit) => match Unit::parse(&unit) {
                Some(unit) if count > 0 => Ok(Expr::Period(Period { count, unit })),
                _ => Err(self
                    .lex
                    .error(t.at, format!("invalid time period '{count}{unit}'"))),
            },
            Tok::LParen => {
                let e = self.expr()?;
                self.expect(&Tok::RParen)?;
                Ok(e)
            }
            Tok::Quoted(name) => Ok(Expr::Field(self.symbols.intern(&name))),
            Tok::Ident(name) => {
                if self.peek()? != &Tok::LParen {
                    return Ok(Expr::Field(self.symbols.intern(&name)));
                }
                let lower = name.to_ascii_lowercase();
                if AggFunc::by_name(&lower).is_some() {
                    // After `stats`, `sort count(*) desc` names the column
                    // `stats count(*)` made; anywhere else an aggregate is an
                    // error.
                    self.skip_call()?;
                    let text = self.text(t.at);
                    return match self.symbols.lookup(&text) {
                        Some(id) => Ok(Expr::Field(id)),
                        None => Err(self.lex.error(
                            t.at,
                            format!("aggregate function '{name}' is only allowed in stats"),
                        )),
                    };
                }
                let Some((func, min, max)) = Func::by_name(&lower) else {
                    return Err(self.lex.error(t.at, format!("unknown function '{name}'")));
                };
                self.bump()?;
                let mut args = Vec::new();
                if !self.eat(&Tok::RParen)? {
                    loop {
                        args.push(self.expr()?);
                        if self.eat(&Tok::RParen)? {
                            break;
                        }
                        self.expect(&Tok::Comma)?;
                    }
                }
                if args.len() < min || args.len() > max {
                    return Err(self.lex.error(
                        t.at,
                        format!(
                            "function '{name}' takes {min} to {max} arguments, got {}",
                            args.len()
                        ),
                    ));
                }
                // A period is a literal (`5m`), never computed: the functions
                // that take one must see it where they expect it.
                let wants_period = matches!(func, Func::Bin | Func::DateFloor | Func::DateCeil);
                for (i, a) in args.iter().enumerate() {
                    let is_period = matches!(a, Expr::Period(_));
                    if is_period != (wants_period && i + 1 == args.len()) {
                        return Err(self.lex.error(
                            t.at,
                            if is_period {
                                format!("a time period is not allowed here in '{name}'")
                            } else {
                                format!(
                                    "'{name}' takes a time period such as 5m as its last argument"
                                )
                            },
                        ));
                    }
                }
                // A call written exactly like an earlier column's name
                // (`stats ... by bin(5m) | sort bin(5m)`) reads that column:
                // after `stats` there is no event to compute it from.
                let text = self.text(t.at);
                if let Some(id) = self.symbols.lookup(&text) {
                    return Ok(Expr::Field(id));
                }
                Ok(Expr::Call(func, args))
            }
            _ => Err(self.unexpected(&t, "expected a value, field or function")),
        }
    }
}

/// A `parse` glob as a regex: each `*` captures lazily (the shortest text up
/// to the next literal part), except a final `*`, which takes the rest.
fn glob_to_regex(glob: &str) -> String {
    let parts: Vec<&str> = glob.split('*').collect();
    let mut out = String::from("(?s)");
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        out.push_str(&regex::escape(part));
        if i < last {
            out.push_str(if i + 1 == last && parts[last].is_empty() {
                "(.*)"
            } else {
                "(.*?)"
            });
        }
    }
    out
}

/// The peek buffer is always filled just above; this keeps `peek` total
/// without an `unwrap`.
fn unreachable_end() -> Result<&'static Tok, QueryError> {
    Ok(&Tok::End)
}

//! Recursive-descent parser for
//! `SELECT FUNC(metric) FROM ns | SCHEMA(ns, key...) [WHERE cond]
//! [GROUP BY key, ...] [ORDER BY FUNC() [ASC|DESC]] [LIMIT n]`.
//! Keywords are case-insensitive; identifiers are case-sensitive.

use super::ast::{Condition, Direction, Func, OrderBy, Query, Source};
use super::lexer::{Token, TokenKind, tokenize};
use super::{MAX_CONDITION_DEPTH, MAX_LIMIT, QueryError};

/// Words that are keywords wherever they appear bare; to use one as a name,
/// quote it.
const RESERVED: [&str; 13] = [
    "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "LIMIT", "AND", "OR", "ASC", "DESC",
    "SCHEMA", "NOT",
];

pub(crate) fn parse(src: &str) -> Result<Query, QueryError> {
    let tokens = tokenize(src)?;
    let end = Token {
        kind: TokenKind::End,
        pos: src.chars().count() + 1,
    };
    let mut p = Parser { tokens, at: 0, end };
    let q = p.query()?;
    let t = p.peek();
    if t.kind != TokenKind::End {
        return Err(p.unexpected("the end of the query"));
    }
    Ok(q)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Returned past the last token (`tokenize` ends with `End` anyway; this
    /// keeps `peek` total without relying on that).
    end: Token,
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.at).unwrap_or(&self.end)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != TokenKind::End {
            self.at += 1;
        }
        t
    }

    fn unexpected(&self, expected: &str) -> QueryError {
        let t = self.peek();
        QueryError::Unexpected {
            found: t.describe(),
            expected: expected.to_string(),
            pos: t.pos,
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn keyword(&mut self, kw: &str) -> Result<(), QueryError> {
        if self.is_keyword(kw) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(kw))
        }
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<(), QueryError> {
        if self.peek().kind == kind {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// A metric, namespace or label name: bare (not reserved) or `"quoted"`.
    fn identifier(&mut self, what: &str) -> Result<String, QueryError> {
        match &self.peek().kind {
            TokenKind::Word(w) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(w)) => {
                let w = w.clone();
                self.bump();
                Ok(w)
            }
            TokenKind::QuotedIdent(w) => {
                let w = w.clone();
                self.bump();
                Ok(w)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn func(&mut self) -> Result<Func, QueryError> {
        let t = self.peek().clone();
        match &t.kind {
            TokenKind::Word(w) => match Func::parse(w) {
                Some(f) => {
                    self.bump();
                    Ok(f)
                }
                None => Err(QueryError::UnknownFunction {
                    name: w.clone(),
                    pos: t.pos,
                }),
            },
            _ => Err(self.unexpected("one of the functions AVG, COUNT, MAX, MIN, SUM")),
        }
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        self.keyword("SELECT")?;
        let func = self.func()?;
        self.expect(TokenKind::LParen, "'('")?;
        let metric_name = self.identifier("a metric name")?;
        self.expect(TokenKind::RParen, "')'")?;
        self.keyword("FROM")?;
        let source = self.source()?;
        let filter = if self.is_keyword("WHERE") {
            self.bump();
            Some(self.or_condition(0)?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.is_keyword("GROUP") {
            self.bump();
            self.keyword("BY")?;
            loop {
                let key = self.identifier("a label key")?;
                if !group_by.contains(&key) {
                    group_by.push(key);
                }
                if self.peek().kind != TokenKind::Comma {
                    break;
                }
                self.bump();
            }
        }
        let order_by = if self.is_keyword("ORDER") {
            self.bump();
            self.keyword("BY")?;
            let func = self.func()?;
            self.expect(TokenKind::LParen, "'('")?;
            self.expect(
                TokenKind::RParen,
                "')' (ORDER BY functions take no argument)",
            )?;
            let direction = if self.is_keyword("DESC") {
                self.bump();
                Direction::Desc
            } else {
                if self.is_keyword("ASC") {
                    self.bump();
                }
                Direction::Asc
            };
            Some(OrderBy { func, direction })
        } else {
            None
        };
        let limit = if self.is_keyword("LIMIT") {
            self.bump();
            let t = self.peek().clone();
            let TokenKind::Number(n) = &t.kind else {
                return Err(self.unexpected("a number"));
            };
            match n.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => {
                    self.bump();
                    Some(n)
                }
                _ => {
                    return Err(QueryError::BadLimit {
                        value: n.clone(),
                        pos: t.pos,
                    });
                }
            }
        } else {
            None
        };
        Ok(Query {
            func,
            metric_name,
            source,
            filter,
            group_by,
            order_by,
            limit,
        })
    }

    fn source(&mut self) -> Result<Source, QueryError> {
        let is_schema = self.is_keyword("SCHEMA")
            && self
                .tokens
                .get(self.at + 1)
                .is_some_and(|t| t.kind == TokenKind::LParen);
        if !is_schema {
            return Ok(Source::Namespace(
                self.identifier("a namespace or SCHEMA(...)")?,
            ));
        }
        self.bump();
        self.bump();
        let namespace = self.identifier("a namespace")?;
        let mut keys: Vec<String> = Vec::new();
        while self.peek().kind == TokenKind::Comma {
            self.bump();
            let key = self.identifier("a label key")?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        self.expect(TokenKind::RParen, "',' or ')'")?;
        Ok(Source::Schema { namespace, keys })
    }

    // Precedence as in SQL: AND binds tighter than OR.
    fn or_condition(&mut self, depth: usize) -> Result<Condition, QueryError> {
        let mut left = self.and_condition(depth)?;
        while self.is_keyword("OR") {
            self.bump();
            let right = self.and_condition(depth)?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_condition(&mut self, depth: usize) -> Result<Condition, QueryError> {
        let mut left = self.comparison(depth)?;
        while self.is_keyword("AND") {
            self.bump();
            let right = self.comparison(depth)?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn comparison(&mut self, depth: usize) -> Result<Condition, QueryError> {
        if self.peek().kind == TokenKind::LParen {
            // Bounded so a hostile query cannot exhaust the stack.
            if depth >= MAX_CONDITION_DEPTH {
                return Err(QueryError::TooDeep {
                    pos: self.peek().pos,
                });
            }
            self.bump();
            let inner = self.or_condition(depth + 1)?;
            self.expect(TokenKind::RParen, "')'")?;
            return Ok(inner);
        }
        let key = self.identifier("a label key")?;
        let eq = match self.peek().kind {
            TokenKind::Eq => true,
            TokenKind::Ne => false,
            _ => return Err(self.unexpected("'=' or '!='")),
        };
        self.bump();
        let t = self.peek().clone();
        let value = match t.kind {
            TokenKind::Str(s) => s,
            TokenKind::Word(_) | TokenKind::QuotedIdent(_) | TokenKind::Number(_) => {
                return Err(QueryError::ValueNotQuoted {
                    found: t.describe(),
                    pos: t.pos,
                });
            }
            _ => return Err(self.unexpected("a label value in single quotes")),
        };
        self.bump();
        Ok(if eq {
            Condition::Eq { key, value }
        } else {
            Condition::Ne { key, value }
        })
    }
}

//! Recursive-descent parser. Precedence, loosest first:
//! `OR`/`||`, `AND`/`&&`, comparisons, `+ -`, `* /`, unary `-`, `^`
//! (right-associative, so `-2^2` is `-4` and `2^3^2` is `2^9`).
//!
//! Nesting (parentheses, call arguments, array literals, unary minus) is
//! limited to [`MAX_NESTING`] so that both this parser and the evaluator
//! recurse a bounded number of times on any input.

use super::ast::{BinOp, FillMode, Func, Node};
use super::lexer::{SyntaxError, Token, TokenKind};

/// Deepest nesting the parser accepts.
pub const MAX_NESTING: usize = 64;

pub(crate) fn parse_tokens(tokens: &[Token]) -> Result<Node, SyntaxError> {
    let mut parser = Parser {
        tokens,
        idx: 0,
        depth: 0,
    };
    let node = parser.expr()?;
    match parser.peek() {
        TokenKind::End => Ok(node),
        _ => Err(parser.unexpected()),
    }
}

struct Parser<'t> {
    tokens: &'t [Token],
    idx: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &TokenKind {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &TokenKind {
        // The token list always ends with `End`; reading past it keeps
        // returning `End`.
        self.tokens
            .get(self.idx + ahead)
            .or(self.tokens.last())
            .map_or(&TokenKind::End, |t| &t.kind)
    }

    fn pos(&self) -> usize {
        self.tokens
            .get(self.idx)
            .or(self.tokens.last())
            .map_or(0, |t| t.pos)
    }

    fn bump(&mut self) {
        if self.idx < self.tokens.len() {
            self.idx += 1;
        }
    }

    fn error(&self, message: impl Into<String>, pos: usize) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            pos,
        }
    }

    fn unexpected(&self) -> SyntaxError {
        let message = match self.peek() {
            TokenKind::End => "Unexpected end of expression".to_string(),
            other => format!("Unexpected {}", describe(other)),
        };
        self.error(message, self.pos())
    }

    fn expect(&mut self, kind: &TokenKind) -> Result<(), SyntaxError> {
        if self.peek() == kind {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(
                format!("Expression is nested more than {MAX_NESTING} levels deep"),
                self.pos(),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn expr(&mut self) -> Result<Node, SyntaxError> {
        self.chain(Level::Or)
    }

    /// One left-associative precedence level, kept flat.
    fn chain(&mut self, level: Level) -> Result<Node, SyntaxError> {
        let first = self.operand(level)?;
        let mut rest = Vec::new();
        while let Some(op) = self.operator_at(level) {
            self.bump();
            rest.push((op, self.operand(level)?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Node::Chain {
                first: Box::new(first),
                rest,
            }
        })
    }

    fn operand(&mut self, level: Level) -> Result<Node, SyntaxError> {
        match level.tighter() {
            Some(next) => self.chain(next),
            None => self.unary(),
        }
    }

    fn operator_at(&self, level: Level) -> Option<BinOp> {
        let op = match self.peek() {
            TokenKind::Op(op) => *op,
            TokenKind::Minus => BinOp::Sub,
            _ => return None,
        };
        let op_level = match op {
            BinOp::Or => Level::Or,
            BinOp::And => Level::And,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => Level::Compare,
            BinOp::Add | BinOp::Sub => Level::Additive,
            BinOp::Mul | BinOp::Div => Level::Multiplicative,
            BinOp::Pow => return None,
        };
        (op_level == level).then_some(op)
    }

    fn unary(&mut self) -> Result<Node, SyntaxError> {
        if self.peek() == &TokenKind::Minus {
            self.bump();
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Node::Neg(Box::new(inner)));
        }
        self.power()
    }

    /// `a ^ b ^ -c`: a flat, right-associative run. A minus in an exponent
    /// takes the rest of the run with it (`2^-1^2` is `2^-(1^2)`).
    fn power(&mut self) -> Result<Node, SyntaxError> {
        let mut items = vec![self.primary()?];
        while self.peek() == &TokenKind::Op(BinOp::Pow) {
            self.bump();
            if self.peek() == &TokenKind::Minus {
                items.push(self.unary()?);
                break;
            }
            items.push(self.primary()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::Number(f64::NAN))
        } else {
            Node::Pow(items)
        })
    }

    fn primary(&mut self) -> Result<Node, SyntaxError> {
        let pos = self.pos();
        match self.peek().clone() {
            TokenKind::Number(v) => {
                self.bump();
                Ok(Node::Number(v))
            }
            TokenKind::Word(word) => {
                if self.peek_at(1) == &TokenKind::LParen {
                    let func = Func::from_name(&word)
                        .ok_or_else(|| self.error(format!("Unknown function '{word}'"), pos))?;
                    self.bump();
                    self.call(func, pos)
                } else if is_valid_id(&word) {
                    self.bump();
                    Ok(Node::Id(word))
                } else if word.starts_with(|c: char| c.is_ascii_uppercase()) {
                    Err(self.unexpected())
                } else {
                    Err(self.error(
                        format!(
                            "Invalid id '{word}': ids start with a lowercase letter \
                             and contain only letters, digits and underscores"
                        ),
                        pos,
                    ))
                }
            }
            TokenKind::LParen => {
                self.bump();
                self.enter()?;
                let inner = self.expr()?;
                self.expect(&TokenKind::RParen)?;
                self.leave();
                Ok(inner)
            }
            TokenKind::LBracket => {
                self.bump();
                self.enter()?;
                let mut items = vec![self.expr()?];
                while self.peek() == &TokenKind::Comma {
                    self.bump();
                    items.push(self.expr()?);
                }
                self.expect(&TokenKind::RBracket)?;
                self.leave();
                Ok(Node::Array(items))
            }
            _ => Err(self.unexpected()),
        }
    }

    /// Arguments of `func`, the `(` being the current token.
    fn call(&mut self, func: Func, name_pos: usize) -> Result<Node, SyntaxError> {
        self.expect(&TokenKind::LParen)?;
        self.enter()?;
        let mut args = Vec::new();
        if self.peek() != &TokenKind::RParen {
            loop {
                args.push(self.argument(func, args.len())?);
                if self.peek() != &TokenKind::Comma {
                    break;
                }
                self.bump();
            }
        }
        self.expect(&TokenKind::RParen)?;
        self.leave();
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let expected = match (min, max) {
                (a, b) if a == b => format!("{a}"),
                (0, b) => format!("at most {b}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(self.error(
                format!(
                    "Function {} expects {expected} argument{} but got {}",
                    func.name(),
                    if max == 1 { "" } else { "s" },
                    args.len()
                ),
                name_pos,
            ));
        }
        Ok(Node::Call { func, args })
    }

    /// One argument; `METRICS` and `INSIGHT_RULE_METRIC` take strings and `FILL`'s second argument may
    /// be a strategy keyword, everything else is an expression.
    fn argument(&mut self, func: Func, index: usize) -> Result<Node, SyntaxError> {
        match (func, index, self.peek().clone()) {
            (Func::Metrics, 0, TokenKind::Str(filter)) => {
                self.bump();
                Ok(Node::Str(filter))
            }
            (Func::Metrics, _, _) => Err(self.unexpected()),
            (Func::InsightRuleMetric, _, TokenKind::Str(text)) => {
                self.bump();
                Ok(Node::Str(text))
            }
            (Func::InsightRuleMetric, _, _) => Err(self.unexpected()),
            (Func::Fill, 1, TokenKind::Word(word)) if !is_valid_id(&word) => {
                let mode = match word.as_str() {
                    "REPEAT" => FillMode::Repeat,
                    "LINEAR" => FillMode::Linear,
                    _ => return self.expr(),
                };
                self.bump();
                Ok(Node::FillMode(mode))
            }
            _ => self.expr(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Or,
    And,
    Compare,
    Additive,
    Multiplicative,
}

impl Level {
    fn tighter(self) -> Option<Level> {
        match self {
            Level::Or => Some(Level::And),
            Level::And => Some(Level::Compare),
            Level::Compare => Some(Level::Additive),
            Level::Additive => Some(Level::Multiplicative),
            Level::Multiplicative => None,
        }
    }
}

/// Metric-query ids: `[a-z][a-zA-Z0-9_]*`.
pub(crate) fn is_valid_id(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Number(v) => format!("number {v}"),
        TokenKind::Word(w) => format!("'{w}'"),
        TokenKind::Str(s) => format!("string \"{s}\""),
        TokenKind::Op(op) => format!("'{}'", op.symbol()),
        TokenKind::Minus => "'-'".to_string(),
        TokenKind::LParen => "'('".to_string(),
        TokenKind::RParen => "')'".to_string(),
        TokenKind::LBracket => "'['".to_string(),
        TokenKind::RBracket => "']'".to_string(),
        TokenKind::Comma => "','".to_string(),
        TokenKind::End => "end of expression".to_string(),
    }
}

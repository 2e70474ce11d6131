//! The `where` filter: a whitelist grammar for the subset of the OGR SQL
//! WHERE clause that repère accepts, and the expression it hands to GDAL.
//!
//! GDAL passes a GeoPackage attribute filter to SQLite as raw SQL, so any
//! SQLite expression, a recursive CTE or a function call included, would run
//! on the file. The filter is therefore parsed here, its field names are
//! checked against the layer, and GDAL receives only the expression rebuilt
//! from the parse tree: quoted field names, literals, comparisons, `LIKE`,
//! `ILIKE`, `IN`, `BETWEEN`, `IS NULL`, `AND`, `OR`, `NOT` and parentheses.

use std::fmt::{self, Write as _};

/// The maximum length of a filter, in bytes.
pub(super) const MAX_FILTER_BYTES: usize = 4096;

/// The maximum nesting depth of parentheses and `NOT`.
pub(super) const MAX_DEPTH: usize = 32;

/// The grammar of a filter in words, for error messages.
pub(super) const ALLOWED: &str = "a filter may contain field names (optionally in double \
    quotes), 'string' and number literals, = <> != < <= > >=, [NOT] LIKE 'pattern', \
    [NOT] ILIKE 'pattern', [NOT] IN (literal, …), [NOT] BETWEEN literal AND literal, \
    IS [NOT] NULL, AND, OR, NOT and parentheses";

/// A filter that does not fit the grammar: the token at fault, its byte
/// offset in the filter and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FilterSyntaxError {
    pub token: String,
    pub offset: usize,
    pub expected: String,
}

impl fmt::Display for FilterSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: {}; {ALLOWED}",
            self.token, self.offset, self.expected
        )
    }
}

/// The SQL dialect that reads the rebuilt filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// GDAL's own OGR SQL, used by every allowed driver but GeoPackage.
    OgrSql,
    /// SQLite, which the GeoPackage driver hands the filter to. SQLite has
    /// no `ILIKE`, and its `LIKE` already ignores ASCII case.
    // NOTE: so `LIKE` ignores ASCII case in a GeoPackage, whereas OGR SQL's
    // `LIKE` (GDAL 3.6) matches case.
    Sqlite,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, CompareOp, Operand),
    Like {
        field: Operand,
        pattern: String,
        ignore_case: bool,
    },
    In(Operand, Vec<Literal>),
    Between(Operand, Literal, Literal),
    IsNull(Operand),
    IsNotNull(Operand),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Field(String),
    Literal(Literal),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Text(String),
    /// A number as written, already checked to be one.
    Number(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Expr {
    /// Returns the field names the filter uses, in order of appearance.
    pub fn fields(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.collect_fields(&mut names);
        names
    }

    fn collect_fields<'a>(&'a self, names: &mut Vec<&'a str>) {
        let mut push = |operand: &'a Operand| {
            if let Operand::Field(name) = operand {
                names.push(name.as_str());
            }
        };
        match self {
            Expr::And(left, right) | Expr::Or(left, right) => {
                left.collect_fields(names);
                right.collect_fields(names);
            }
            Expr::Not(inner) => inner.collect_fields(names),
            Expr::Compare(left, _, right) => {
                push(left);
                push(right);
            }
            Expr::Like { field, .. }
            | Expr::In(field, _)
            | Expr::Between(field, ..)
            | Expr::IsNull(field)
            | Expr::IsNotNull(field) => push(field),
        }
    }

    /// Renames every field with `rename`, e.g. to the layer's own spelling.
    pub fn rename_fields(&mut self, rename: &impl Fn(&str) -> String) {
        let apply = |operand: &mut Operand| {
            if let Operand::Field(name) = operand {
                *name = rename(name);
            }
        };
        match self {
            Expr::And(left, right) | Expr::Or(left, right) => {
                left.rename_fields(rename);
                right.rename_fields(rename);
            }
            Expr::Not(inner) => inner.rename_fields(rename),
            Expr::Compare(left, _, right) => {
                apply(left);
                apply(right);
            }
            Expr::Like { field, .. }
            | Expr::In(field, _)
            | Expr::Between(field, ..)
            | Expr::IsNull(field)
            | Expr::IsNotNull(field) => apply(field),
        }
    }

    /// Writes the filter in `dialect`, with every field name in double
    /// quotes and every string literal re-escaped. An `AND` or `OR` puts in
    /// parentheses an operand that is the other one, a right operand of the
    /// same kind, and a `BETWEEN`. A chain of one operator is written flat: SQLite's
    /// parser fails with "parser stack overflow" on about 90 nested
    /// parentheses, and a list of a hundred `OR` terms is a usual filter.
    pub fn render(&self, dialect: Dialect) -> String {
        let mut out = String::new();
        self.write(&mut out, dialect);
        out
    }

    fn write(&self, out: &mut String, dialect: Dialect) {
        match self {
            Expr::And(left, right) | Expr::Or(left, right) => {
                let keyword = if matches!(self, Expr::And(..)) {
                    "AND"
                } else {
                    "OR"
                };
                let same_kind =
                    |child: &Expr| std::mem::discriminant(child) == std::mem::discriminant(self);
                let left_flat = same_kind(left) || !left.is_grouped();
                left.write_operand(out, dialect, left_flat);
                let _ = write!(out, " {keyword} ");
                right.write_operand(out, dialect, !right.is_grouped());
            }
            Expr::Not(inner) => {
                out.push_str("NOT (");
                inner.write(out, dialect);
                out.push(')');
            }
            Expr::Compare(left, op, right) => {
                let _ = write!(out, "{left} {} {right}", op.symbol());
            }
            Expr::Like {
                field,
                pattern,
                ignore_case,
            } => {
                let keyword = if *ignore_case && dialect == Dialect::OgrSql {
                    "ILIKE"
                } else {
                    "LIKE"
                };
                let _ = write!(out, "{field} {keyword} {}", Literal::Text(pattern.clone()));
            }
            Expr::In(field, values) => {
                let _ = write!(out, "{field} IN (");
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{value}");
                }
                out.push(')');
            }
            Expr::Between(field, low, high) => {
                let _ = write!(out, "{field} BETWEEN {low} AND {high}");
            }
            Expr::IsNull(field) => {
                let _ = write!(out, "{field} IS NULL");
            }
            Expr::IsNotNull(field) => {
                let _ = write!(out, "{field} IS NOT NULL");
            }
        }
    }
}

impl Expr {
    /// Tells whether the expression goes in parentheses as an operand of
    /// `AND` or `OR`: another `AND` or `OR`, and `BETWEEN`, whose own `AND`
    /// would otherwise read as a conjunction.
    fn is_grouped(&self) -> bool {
        matches!(self, Expr::And(..) | Expr::Or(..) | Expr::Between(..))
    }

    /// Writes the operand of an `AND` or `OR`, in parentheses unless `flat`.
    fn write_operand(&self, out: &mut String, dialect: Dialect, flat: bool) {
        if flat {
            self.write(out, dialect);
            return;
        }
        out.push('(');
        self.write(out, dialect);
        out.push(')');
    }
}

impl CompareOp {
    fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field(name) => write!(f, "\"{name}\""),
            Operand::Literal(literal) => literal.fmt(f),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(text) => write!(f, "'{}'", text.replace('\'', "''")),
            Literal::Number(number) => f.write_str(number),
        }
    }
}

/// Parses `text` as a filter.
///
/// # Errors
/// A [`FilterSyntaxError`] naming the first token that does not fit the
/// grammar, or the length or nesting over [`MAX_FILTER_BYTES`] or
/// [`MAX_DEPTH`].
pub(super) fn parse(text: &str) -> Result<Expr, FilterSyntaxError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(FilterSyntaxError {
            token: format!("a filter of {} bytes", text.len()),
            offset: MAX_FILTER_BYTES,
            expected: format!("the maximum is {MAX_FILTER_BYTES} bytes"),
        });
    }
    if let Some(offset) = text.find('\0') {
        return Err(FilterSyntaxError {
            token: "a NUL byte".to_owned(),
            offset,
            expected: "GDAL takes the filter as a C string, which a NUL byte ends: \
                       remove it"
                .to_owned(),
        });
    }
    let (tokens, lexical_error) = tokenize(text);
    let mut parser = Parser {
        tokens,
        lexical_error,
        position: 0,
        depth: 0,
        end: text.len(),
    };
    let expr = parser.expression()?;
    match (parser.peek().cloned(), parser.lexical_error) {
        (Some(token), _) => Err(token.unexpected("AND, OR or the end of the filter")),
        (None, Some(error)) => Err(error),
        (None, None) => Ok(expr),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    /// A bare word: a keyword or a field name.
    Word(String),
    QuotedField(String),
    Text(String),
    Number(String),
    Symbol(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    offset: usize,
}

impl Token {
    fn unexpected(&self, expected: &str) -> FilterSyntaxError {
        let description = match &self.kind {
            TokenKind::Word(word) => format!("unexpected `{word}`"),
            TokenKind::QuotedField(name) => format!("unexpected field \"{name}\""),
            TokenKind::Text(_) => "unexpected string literal".to_owned(),
            TokenKind::Number(number) => format!("unexpected number {number}"),
            TokenKind::Symbol(symbol) => format!("unexpected `{symbol}`"),
        };
        FilterSyntaxError {
            token: description,
            offset: self.offset,
            expected: format!("expected {expected}"),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, TokenKind::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

/// Words with a meaning in the grammar, which cannot be bare field names.
const KEYWORDS: [&str; 9] = [
    "AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "BETWEEN", "IS", "NULL",
];

const SYMBOLS: [&str; 10] = ["<=", ">=", "<>", "!=", "=", "<", ">", "(", ")", ","];

/// Splits `text` into tokens, up to the first text that is no token. The
/// error for that text comes second, so that the parser reports it only if
/// every token before it fits the grammar.
fn tokenize(text: &str) -> (Vec<Token>, Option<FilterSyntaxError>) {
    let mut tokens = Vec::new();
    match read_tokens(text, &mut tokens) {
        Ok(()) => (tokens, None),
        Err(error) => (tokens, Some(error)),
    }
}

fn read_tokens(text: &str, tokens: &mut Vec<Token>) -> Result<(), FilterSyntaxError> {
    let mut offset = 0;
    while let Some(c) = text[offset..].chars().next() {
        let rest = &text[offset..];
        if c.is_whitespace() {
            offset += c.len_utf8();
            continue;
        }
        let (kind, length) = if c == '\'' {
            quoted(rest, '\'', offset).map(|(t, n)| (TokenKind::Text(t), n))?
        } else if c == '"' {
            quoted(rest, '"', offset).map(|(t, n)| (TokenKind::QuotedField(t), n))?
        } else if c.is_ascii_alphabetic() || c == '_' {
            let length = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (TokenKind::Word(rest[..length].to_owned()), length)
        } else if c.is_ascii_digit() || c == '.' || (c == '-' && starts_number(&rest[1..])) {
            let length = number_length(rest, offset)?;
            (TokenKind::Number(rest[..length].to_owned()), length)
        } else if let Some(symbol) = SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            (TokenKind::Symbol(symbol), symbol.len())
        } else {
            return Err(unexpected_character(rest, offset));
        };
        tokens.push(Token { kind, offset });
        offset += length;
    }
    Ok(())
}

fn unexpected_character(rest: &str, offset: usize) -> FilterSyntaxError {
    let expected = if rest.starts_with("--") || rest.starts_with("/*") {
        "comments are not allowed"
    } else if rest.starts_with(';') {
        "a filter is one expression, and `;` is not allowed"
    } else {
        "this character is not allowed outside quotes"
    };
    let is_comment = rest.starts_with("--") || rest.starts_with("/*");
    let length = if is_comment { 2 } else { 1 };
    let start: String = rest.chars().take(length).collect();
    FilterSyntaxError {
        token: format!("unexpected `{start}`"),
        offset,
        expected: expected.to_owned(),
    }
}

fn starts_number(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Returns the length of the number at the start of `text`: an optional
/// `-`, digits with an optional fraction, and an optional exponent.
fn number_length(text: &str, offset: usize) -> Result<usize, FilterSyntaxError> {
    let bytes = text.as_bytes();
    let mut end = usize::from(bytes.first() == Some(&b'-'));
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let integer = digits(end);
    end += integer;
    let mut fraction = 0;
    if bytes.get(end) == Some(&b'.') {
        fraction = digits(end + 1);
        end += 1 + fraction;
    }
    let invalid = |end: usize| FilterSyntaxError {
        token: format!("invalid number `{}`", &text[..end.min(text.len())]),
        offset,
        expected: "write numbers as 12, -3.5 or 1.5e3".to_owned(),
    };
    if integer + fraction == 0 {
        return Err(invalid(end));
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let exponent = digits(end + 1 + sign);
        if exponent == 0 {
            return Err(invalid(end + 1 + sign));
        }
        end += 1 + sign + exponent;
    }
    let glued = bytes
        .get(end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.');
    if glued {
        return Err(invalid(end + 1));
    }
    Ok(end)
}

/// Reads the quoted text at the start of `text`, where a doubled quote
/// stands for one. Returns the text and the length read, quotes included.
fn quoted(text: &str, quote: char, offset: usize) -> Result<(String, usize), FilterSyntaxError> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((index, c)) = chars.next() {
        if c != quote {
            value.push(c);
            continue;
        }
        if chars.peek().is_some_and(|(_, next)| *next == quote) {
            chars.next();
            value.push(quote);
            continue;
        }
        check_backslash(&value, quote, offset)?;
        return Ok((value, index + 1));
    }
    let quoted_kind = if quote == '\'' {
        "string"
    } else {
        "field name"
    };
    Err(FilterSyntaxError {
        token: format!("unterminated {quoted_kind}"),
        offset,
        expected: format!("close it with {quote}"),
    })
}

/// Rejects a backslash before a quote or at the end of a quoted text. OGR
/// SQL reads `\'` and `\"` as escaped quotes, and SQLite does not, so the
/// rebuilt filter would mean different things to the two.
fn check_backslash(value: &str, quote: char, offset: usize) -> Result<(), FilterSyntaxError> {
    let bad = value.ends_with('\\') || value.contains("\\'") || value.contains("\\\"");
    if !bad {
        return Ok(());
    }
    let quoted_kind = if quote == '\'' {
        "string"
    } else {
        "field name"
    };
    Err(FilterSyntaxError {
        token: format!("a {quoted_kind} with a backslash before a quote or at its end"),
        offset,
        expected: "GDAL and SQLite read such a backslash differently, so it is not allowed"
            .to_owned(),
    })
}

struct Parser {
    tokens: Vec<Token>,
    /// The error for the text after the last token, if the filter has such
    /// text.
    lexical_error: Option<FilterSyntaxError>,
    position: usize,
    depth: usize,
    /// The length of the filter, the offset reported at its end.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self, expected: &str) -> Result<Token, FilterSyntaxError> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        if token.is_none()
            && let Some(error) = &self.lexical_error
        {
            return Err(error.clone());
        }
        token.ok_or_else(|| FilterSyntaxError {
            token: "end of the filter".to_owned(),
            offset: self.end,
            expected: format!("expected {expected}"),
        })
    }

    fn take_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|t| t.is_keyword(keyword));
        if found {
            self.position += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), FilterSyntaxError> {
        let token = self.next(keyword)?;
        if token.is_keyword(keyword) {
            Ok(())
        } else {
            Err(token.unexpected(keyword))
        }
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), FilterSyntaxError> {
        let token = self.next(&format!("`{symbol}`"))?;
        if token.kind == TokenKind::Symbol(symbol_ref(symbol)) {
            Ok(())
        } else {
            Err(token.unexpected(&format!("`{symbol}`")))
        }
    }

    fn enter(&mut self, offset: usize) -> Result<(), FilterSyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterSyntaxError {
                token: "nesting too deep".to_owned(),
                offset,
                expected: format!("nest NOT and parentheses at most {MAX_DEPTH} deep"),
            });
        }
        Ok(())
    }

    fn expression(&mut self) -> Result<Expr, FilterSyntaxError> {
        let mut left = self.conjunction()?;
        while self.take_keyword("OR") {
            let right = self.conjunction()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Expr, FilterSyntaxError> {
        let mut left = self.negation()?;
        while self.take_keyword("AND") {
            let right = self.negation()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn negation(&mut self) -> Result<Expr, FilterSyntaxError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.next("a condition").unwrap_err());
        };
        if token.is_keyword("NOT") {
            self.position += 1;
            self.enter(token.offset)?;
            let inner = self.negation()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if token.kind == TokenKind::Symbol("(") {
            self.position += 1;
            self.enter(token.offset)?;
            let inner = self.expression()?;
            self.expect_symbol(")")?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, FilterSyntaxError> {
        let left = self.operand()?;
        let token = self.next("a comparison, LIKE, ILIKE, IN, BETWEEN or IS")?;
        if let TokenKind::Symbol(symbol) = token.kind
            && let Some(op) = compare_op(symbol)
        {
            let right = self.operand()?;
            return Ok(Expr::Compare(left, op, right));
        }
        if token.is_keyword("IS") {
            let negated = self.take_keyword("NOT");
            self.expect_keyword("NULL")?;
            return Ok(if negated {
                Expr::IsNotNull(left)
            } else {
                Expr::IsNull(left)
            });
        }
        let negated = token.is_keyword("NOT");
        let token = if negated {
            self.next("LIKE, ILIKE, IN or BETWEEN")?
        } else {
            token
        };
        let expr = self.negatable(left, &token)?;
        Ok(if negated {
            Expr::Not(Box::new(expr))
        } else {
            expr
        })
    }

    /// Reads the rest of a LIKE, ILIKE, IN or BETWEEN predicate, whose
    /// keyword is `token`.
    fn negatable(&mut self, left: Operand, token: &Token) -> Result<Expr, FilterSyntaxError> {
        if token.is_keyword("LIKE") || token.is_keyword("ILIKE") {
            let pattern = match self.literal()? {
                Literal::Text(text) => text,
                Literal::Number(number) => number,
            };
            return Ok(Expr::Like {
                field: left,
                pattern,
                ignore_case: token.is_keyword("ILIKE"),
            });
        }
        if token.is_keyword("IN") {
            self.expect_symbol("(")?;
            let mut values = vec![self.literal()?];
            loop {
                let next = self.next("`,` or `)`")?;
                match next.kind {
                    TokenKind::Symbol(",") => values.push(self.literal()?),
                    TokenKind::Symbol(")") => break,
                    _ => return Err(next.unexpected("`,` or `)`")),
                }
            }
            return Ok(Expr::In(left, values));
        }
        if token.is_keyword("BETWEEN") {
            let low = self.literal()?;
            self.expect_keyword("AND")?;
            let high = self.literal()?;
            return Ok(Expr::Between(left, low, high));
        }
        Err(token.unexpected("a comparison (= <> != < <= > >=), LIKE, ILIKE, IN, BETWEEN or IS"))
    }

    fn operand(&mut self) -> Result<Operand, FilterSyntaxError> {
        let expected = "a field name or a literal";
        let token = self.next(expected)?;
        match token.kind.clone() {
            TokenKind::Word(word) if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&word)) => {
                Err(token.unexpected(expected))
            }
            TokenKind::Word(word) => {
                if self
                    .peek()
                    .is_some_and(|t| t.kind == TokenKind::Symbol("("))
                {
                    return Err(FilterSyntaxError {
                        token: format!("function call `{word}(`"),
                        offset: token.offset,
                        expected: "functions are not allowed".to_owned(),
                    });
                }
                Ok(Operand::Field(word))
            }
            TokenKind::QuotedField(name) => Ok(Operand::Field(name)),
            TokenKind::Text(text) => Ok(Operand::Literal(Literal::Text(text))),
            TokenKind::Number(number) => Ok(Operand::Literal(Literal::Number(number))),
            TokenKind::Symbol(_) => Err(token.unexpected(expected)),
        }
    }

    fn literal(&mut self) -> Result<Literal, FilterSyntaxError> {
        let expected = "a 'string' or number literal (subqueries and field names are not \
                        allowed here)";
        let token = self.next(expected)?;
        match token.kind {
            TokenKind::Text(text) => Ok(Literal::Text(text)),
            TokenKind::Number(number) => Ok(Literal::Number(number)),
            _ => Err(token.unexpected(expected)),
        }
    }
}

fn symbol_ref(symbol: &str) -> &'static str {
    SYMBOLS
        .iter()
        .find(|s| **s == symbol)
        .copied()
        .unwrap_or("")
}

fn compare_op(symbol: &str) -> Option<CompareOp> {
    Some(match symbol {
        "=" => CompareOp::Eq,
        "<>" | "!=" => CompareOp::Ne,
        "<" => CompareOp::Lt,
        "<=" => CompareOp::Le,
        ">" => CompareOp::Gt,
        ">=" => CompareOp::Ge,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(text: &str) -> String {
        parse(text).unwrap().render(Dialect::OgrSql)
    }

    fn rejected(text: &str) -> FilterSyntaxError {
        parse(text).expect_err(text)
    }

    #[test]
    fn filters_rebuild_quoted() {
        let cases = [
            ("NO_DIS IS NOT NULL", "\"NO_DIS\" IS NOT NULL"),
            (
                "\"Nom du lieu\" = 'l''école'",
                "\"Nom du lieu\" = 'l''école'",
            ),
            ("a >= -3.5e2 AND b != 4", "\"a\" >= -3.5e2 AND \"b\" <> 4"),
            (
                "x = 1 OR y = 2 AND z = 3",
                "\"x\" = 1 OR (\"y\" = 2 AND \"z\" = 3)",
            ),
            (
                "a = 1 AND (b = 2 AND c = 3)",
                "\"a\" = 1 AND (\"b\" = 2 AND \"c\" = 3)",
            ),
            (
                "n BETWEEN 1 AND 5 AND x = 1",
                "(\"n\" BETWEEN 1 AND 5) AND \"x\" = 1",
            ),
            (
                "(a = 1 OR b = 2) AND c = 3",
                "(\"a\" = 1 OR \"b\" = 2) AND \"c\" = 3",
            ),
            ("code not in ('a', 'b')", "NOT (\"code\" IN ('a', 'b'))"),
            ("NOT (n BETWEEN 1 AND 5)", "NOT (\"n\" BETWEEN 1 AND 5)"),
            ("name ILIKE 'saint%'", "\"name\" ILIKE 'saint%'"),
            ("name NOT LIKE 'a_%'", "NOT (\"name\" LIKE 'a_%')"),
            ("v IS NULL", "\"v\" IS NULL"),
            ("0.5 < v", "0.5 < \"v\""),
        ];
        for (text, expected) in cases {
            assert_eq!(rendered(text), expected, "for {text}");
        }
    }

    #[test]
    fn or_chain_written_flat() {
        let terms: Vec<String> = (0..200).map(|i| format!("n = {i}")).collect();
        let text = terms.join(" OR ");
        let expected = terms
            .iter()
            .map(|term| term.replace("n", "\"n\""))
            .collect::<Vec<_>>()
            .join(" OR ");
        assert_eq!(rendered(&text), expected);
    }

    #[test]
    fn nul_byte_rejected() {
        let error = rejected("name = 'a\0b'");
        assert_eq!(error.token, "a NUL byte");
        assert_eq!(error.offset, 9);
    }

    #[test]
    fn sqlite_reads_ilike_as_like() {
        let expr = parse("name ILIKE 'x%'").unwrap();
        assert_eq!(expr.render(Dialect::Sqlite), "\"name\" LIKE 'x%'");
    }

    #[test]
    fn fields_listed_in_order() {
        let expr = parse("a = b OR NOT c IN (1) AND \"d e\" IS NULL").unwrap();
        assert_eq!(expr.fields(), ["a", "b", "c", "d e"]);
    }

    #[test]
    fn sql_beyond_grammar_rejected() {
        let cases = [
            (
                "fid IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) \
                 SELECT x FROM c WHERE x < 0)",
                "`WITH`",
            ),
            ("fid IN (SELECT fid FROM t)", "`SELECT`"),
            ("length(name) > 3", "function call `length(`"),
            ("a = 1; DROP TABLE t", "`;`"),
            ("a = 1 -- comment", "`--`"),
            ("a = 1 /* comment */", "`/*`"),
            ("a = b || 'x'", "`|`"),
            ("a = 1 + 2", "`+`"),
            ("a = 'x' COLLATE nocase", "`COLLATE`"),
            ("a LIKE b", "`b`"),
            ("a LIKE \"b\"", "unexpected field"),
            ("a = 'open", "unterminated string"),
            ("a = 'x\\'", "backslash"),
            ("a = 12abc", "invalid number"),
            ("a", "end of the filter"),
            ("", "end of the filter"),
            ("a IS NOT", "end of the filter"),
            ("AND = 1", "`AND`"),
        ];
        for (text, token) in cases {
            let error = rejected(text);
            assert!(error.token.contains(token), "{text}: {error}");
        }
    }

    #[test]
    fn limits_rejected() {
        let long = format!("a = '{}'", "x".repeat(MAX_FILTER_BYTES));
        assert!(rejected(&long).to_string().contains("maximum"));

        let deep = format!(
            "{}a = 1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(rejected(&deep).token.contains("nesting"));

        let nots = format!("{}a = 1", "NOT ".repeat(MAX_DEPTH + 1));
        assert!(rejected(&nots).token.contains("nesting"));

        let within = format!("{}a = 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse(&within).is_ok());
    }

    #[test]
    fn error_names_offset_and_grammar() {
        let error = rejected("a = 1 OR b > (SELECT 1)");
        assert_eq!(error.offset, 13, "{error}");
        assert!(error.to_string().contains(ALLOWED), "{error}");
    }
}

//! Static type checking of a condition against the fact catalogue, before any check runs.
//!
//! CEL itself only finds a type mistake when it evaluates: `company.age_months < '12'` fails
//! on every check (a "data missing" review), and `company.age_months == '12'` is silently
//! false forever. The checker infers each sub-expression's type from the facts' declared
//! kinds and refuses mismatched comparisons and arithmetic, a condition that is not a
//! boolean, and functions the evaluator does not have. It also records where a fact is read
//! in a place where `null` is an error (`<`, `+`, `size`, `&&`…) and where the condition tests
//! a fact for null, so a rule on an optional registry can be warned about (see
//! `scoring::Ruleset::warnings`).

use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr, LiteralValue, operators};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What a value can be, as far as the checker can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Bool,
    Int,
    Double,
    String,
    Bytes,
    Null,
    List(Box<Type>),
    Map,
    Timestamp,
    Duration,
    /// Not known before evaluation (a field of a list element, a `dyn()`…): never an error.
    Dyn,
}

impl Type {
    /// The type of a fact declared with `kind` (`string`, `int`, `list<map>`…). Every fact
    /// may also be `null`, which the checker allows wherever `null` is not an error.
    pub fn of_kind(kind: &str) -> Type {
        match kind {
            "bool" => Type::Bool,
            "int" => Type::Int,
            "double" => Type::Double,
            "string" => Type::String,
            "map" => Type::Map,
            _ => match kind.strip_prefix("list<").and_then(|k| k.strip_suffix('>')) {
                Some(element) => Type::List(Box::new(Type::of_kind(element))),
                None => Type::Dyn,
            },
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Double | Type::Dyn)
    }

    fn is_ordered(&self) -> bool {
        matches!(
            self,
            Type::Int
                | Type::Double
                | Type::String
                | Type::Bytes
                | Type::Timestamp
                | Type::Duration
                | Type::Dyn
        )
    }

    fn is_bool(&self) -> bool {
        matches!(self, Type::Bool | Type::Dyn)
    }

    /// Values of the two types can be equal (CEL compares ints and doubles by value).
    fn meets(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Dyn, _) | (_, Type::Dyn) | (Type::Null, _) | (_, Type::Null) => true,
            (Type::Int | Type::Double, Type::Int | Type::Double) => true,
            (Type::List(a), Type::List(b)) => a.meets(b),
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Double => f.write_str("double"),
            Type::String => f.write_str("string"),
            Type::Bytes => f.write_str("bytes"),
            Type::Null => f.write_str("null"),
            Type::List(t) => write!(f, "list<{t}>"),
            Type::Map => f.write_str("map"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Duration => f.write_str("duration"),
            Type::Dyn => f.write_str("any"),
        }
    }
}

/// One fact a condition may read.
#[derive(Debug, Clone)]
pub struct FactType {
    pub ty: Type,
    /// The registries the value comes from (`service`, `catalog`… for values the service
    /// computes itself).
    pub sources: Vec<String>,
}

/// The facts a policy's conditions and messages may read, with their types.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    facts: BTreeMap<String, FactType>,
}

impl Catalogue {
    /// Adds a fact of `kind` (see [`Type::of_kind`]) from `sources` (comma-separated).
    pub fn with(mut self, name: impl Into<String>, kind: &str, sources: &str) -> Catalogue {
        let sources = sources
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        self.facts.insert(
            name.into(),
            FactType {
                ty: Type::of_kind(kind),
                sources,
            },
        );
        self
    }

    /// The facts of a check: what the scoring rules read.
    pub fn of_checks() -> Catalogue {
        crate::facts::definitions()
            .into_iter()
            .fold(Catalogue::default(), |c, d| {
                c.with(d.name, d.kind, d.source)
            })
    }

    /// An exact fact name, or a prefix of one such as `sources.pb` (a map of facts).
    pub fn is_fact(&self, name: &str) -> bool {
        self.type_of(name).is_some()
    }

    /// A fact's type; a prefix of facts is a map.
    pub fn type_of(&self, name: &str) -> Option<Type> {
        if let Some(fact) = self.facts.get(name) {
            return Some(fact.ty.clone());
        }
        let prefix = format!("{name}.");
        self.facts
            .range(prefix.clone()..)
            .next()
            .filter(|(f, _)| f.starts_with(&prefix))
            .map(|_| Type::Map)
    }

    /// Every fact's name, sorted.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.facts.keys().cloned()
    }

    pub fn get(&self, name: &str) -> Option<&FactType> {
        self.facts.get(name)
    }
}

/// What the checker learnt about one condition.
#[derive(Debug, Default)]
pub struct Typing {
    /// Each type mistake, in words for the analyst, with the character offset in the
    /// condition of the expression it is about.
    pub errors: Vec<(Option<usize>, String)>,
    /// Facts read where a `null` makes the condition fail (operands of `<`, `+`, `&&`,
    /// `size`, `in`…): a missing value there is a "data missing" review.
    pub strict: BTreeSet<String>,
    /// Facts the condition compares with `null` or tests with `has()`.
    pub null_checked: BTreeSet<String>,
}

/// The functions the evaluator has (CEL's standard library), besides the operators and
/// the macros (`has`, `all`, `exists`, `exists_one`, `map`, `filter`).
pub const FUNCTIONS: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "bytes",
    "dyn",
    "type",
    "timestamp",
    "duration",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// Type-checks `expr` (a whole condition) against `catalogue`; `offset` gives the
/// character offset in the condition of an expression's id.
pub fn check(
    expr: &IdedExpr,
    catalogue: &Catalogue,
    offset: &dyn Fn(u64) -> Option<usize>,
) -> Typing {
    let mut checker = Checker {
        catalogue,
        offset,
        bound: Vec::new(),
        typing: Typing::default(),
    };
    let ty = checker.infer(expr);
    if !ty.is_bool() {
        let what = checker.describe(expr, &ty);
        checker.error(
            expr,
            format!("the condition gives {what}, not true or false"),
        );
    }
    checker.typing
}

/// `Some(b)` when the condition's value is `b` whatever the facts say: a literal, or `&&`,
/// `||` and `!` over literals (`x > 1 || true`).
pub fn constant(expr: &IdedExpr) -> Option<bool> {
    match &expr.expr {
        Expr::Literal(LiteralValue::Boolean(b)) => Some(*b.inner()),
        Expr::Call(call) => {
            let args: Vec<Option<bool>> = call.args.iter().map(constant).collect();
            match call.func_name.as_str() {
                operators::LOGICAL_NOT => args.first().copied().flatten().map(|b| !b),
                operators::LOGICAL_AND if args.contains(&Some(false)) => Some(false),
                operators::LOGICAL_OR if args.contains(&Some(true)) => Some(true),
                operators::LOGICAL_AND | operators::LOGICAL_OR => args
                    .iter()
                    .all(Option::is_some)
                    .then(|| args[0].unwrap_or(false)),
                _ => None,
            }
        }
        _ => None,
    }
}

struct Checker<'c> {
    catalogue: &'c Catalogue,
    offset: &'c dyn Fn(u64) -> Option<usize>,
    /// Variables of the comprehension macros in scope, with their types.
    bound: Vec<(String, Type)>,
    typing: Typing,
}

impl Checker<'_> {
    /// A mistake about the expression `at`.
    fn error(&mut self, at: &IdedExpr, message: String) {
        if !self.typing.errors.iter().any(|(_, m)| *m == message) {
            let offset = (self.offset)(leftmost(at).id);
            self.typing.errors.push((offset, message));
        }
    }

    /// The fact `e` names, if it is one (not a macro variable or a field of one).
    fn fact(&self, e: &IdedExpr) -> Option<String> {
        let path = dotted(&e.expr)?;
        let root = path.split('.').next().unwrap_or_default();
        (!self.bound.iter().any(|(b, _)| b == root)).then_some(path)
    }

    /// `e` read where a null is an error.
    fn strictly(&mut self, e: &IdedExpr) {
        if let Some(path) = self.fact(e) {
            self.typing.strict.insert(path);
        }
    }

    fn describe(&self, e: &IdedExpr, ty: &Type) -> String {
        if let Some(path) = dotted(&e.expr) {
            return format!("`{path}` ({ty})");
        }
        if let Expr::Literal(literal) = &e.expr {
            return format!("{} ({ty})", literal_text(literal));
        }
        format!("a value of type {ty}")
    }

    fn infer(&mut self, e: &IdedExpr) -> Type {
        if let Some(path) = dotted(&e.expr) {
            let root = path.split('.').next().unwrap_or_default();
            if let Some((_, ty)) = self.bound.iter().rev().find(|(b, _)| b == root) {
                return if path == root { ty.clone() } else { Type::Dyn };
            }
            // An unknown name was already refused by the compiler.
            return self.catalogue.type_of(&path).unwrap_or(Type::Dyn);
        }
        match &e.expr {
            Expr::Literal(literal) => literal_type(literal),
            Expr::Select(select) if select.test => {
                if let Some(path) = dotted(&select.operand.expr) {
                    self.typing
                        .null_checked
                        .insert(format!("{path}.{}", select.field));
                }
                Type::Bool
            }
            Expr::Select(select) => {
                let operand = self.infer(&select.operand);
                if !matches!(operand, Type::Map | Type::Dyn) {
                    let what = self.describe(&select.operand, &operand);
                    self.error(e, format!("`.{}` reads a field of {what}", select.field));
                }
                Type::Dyn
            }
            Expr::Call(call) => self.call(e, call),
            Expr::Comprehension(c) => {
                let range = self.infer(&c.iter_range);
                self.strictly(&c.iter_range);
                let element = match &range {
                    Type::List(t) => (**t).clone(),
                    Type::Map => Type::String,
                    Type::Dyn => Type::Dyn,
                    other => {
                        let what = self.describe(&c.iter_range, other);
                        self.error(
                            &c.iter_range,
                            format!("a macro (exists, all, map…) iterates over {what}, not a list"),
                        );
                        Type::Dyn
                    }
                };
                let accumulator = self.infer(&c.accu_init);
                let scope = self.bound.len();
                self.bound.push((c.iter_var.clone(), element));
                if let Some(second) = &c.iter_var2 {
                    self.bound.push((second.clone(), Type::Dyn));
                }
                self.bound.push((c.accu_var.clone(), accumulator));
                self.infer(&c.loop_cond);
                self.infer(&c.loop_step);
                let result = self.infer(&c.result);
                self.bound.truncate(scope);
                result
            }
            Expr::List(list) => {
                let types: Vec<Type> = list.elements.iter().map(|x| self.infer(x)).collect();
                let element = match types.split_first() {
                    Some((first, rest)) if rest.iter().all(|t| t == first) => first.clone(),
                    _ => Type::Dyn,
                };
                Type::List(Box::new(element))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(m) = &entry.expr {
                        self.infer(&m.key);
                        self.infer(&m.value);
                    }
                }
                Type::Map
            }
            Expr::Struct(_) | Expr::Ident(_) | Expr::Unspecified => Type::Dyn,
        }
    }

    fn call(&mut self, whole: &IdedExpr, call: &cel::common::ast::CallExpr) -> Type {
        let name = call.func_name.as_str();
        let target = call.target.as_deref();
        let operands: Vec<&IdedExpr> = target.into_iter().chain(call.args.iter()).collect();
        let types: Vec<Type> = operands.iter().map(|x| self.infer(x)).collect();
        let symbol = name.trim_matches('_');
        match name {
            operators::LOGICAL_AND | operators::LOGICAL_OR | operators::LOGICAL_NOT => {
                for (x, ty) in operands.iter().zip(&types) {
                    self.strictly(x);
                    if !ty.is_bool() {
                        let what = self.describe(x, ty);
                        self.error(x, format!("`{symbol}` needs true or false, not {what}"));
                    }
                }
                Type::Bool
            }
            operators::NOT_STRICTLY_FALSE => Type::Bool,
            operators::EQUALS | operators::NOT_EQUALS => {
                if let [a, b] = operands[..] {
                    for (x, other) in [(a, b), (b, a)] {
                        if matches!(other.expr, Expr::Literal(LiteralValue::Null))
                            && let Some(path) = self.fact(x)
                        {
                            self.typing.null_checked.insert(path);
                        }
                    }
                    if !types[0].meets(&types[1]) {
                        let (left, right) =
                            (self.describe(a, &types[0]), self.describe(b, &types[1]));
                        let never = if name == operators::EQUALS {
                            "never true"
                        } else {
                            "always true"
                        };
                        self.error(
                            a,
                            format!("`{symbol}` compares {left} with {right}: {never}"),
                        );
                    }
                }
                Type::Bool
            }
            operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS => {
                if let [a, b] = operands[..] {
                    self.strictly(a);
                    self.strictly(b);
                    let (ta, tb) = (&types[0], &types[1]);
                    if *ta == Type::Null || *tb == Type::Null {
                        self.error(a, format!(
                            "`{symbol}` with null always fails: compare with `== null` or `!= null`"
                        ));
                    } else if !(ta.is_ordered()
                        && tb.is_ordered()
                        && (ta.meets(tb) || ta.is_numeric() && tb.is_numeric()))
                    {
                        let (left, right) = (self.describe(a, ta), self.describe(b, tb));
                        self.error(
                            a,
                            format!(
                                "`{symbol}` compares {left} with {right}: it fails on every check"
                            ),
                        );
                    }
                }
                Type::Bool
            }
            operators::ADD
            | operators::SUBSTRACT
            | operators::MULTIPLY
            | operators::DIVIDE
            | operators::MODULO => {
                operands.iter().for_each(|x| self.strictly(x));
                let [ta, tb] = &types[..] else {
                    return Type::Dyn;
                };
                let adds = name == operators::ADD;
                match (ta, tb) {
                    (Type::Dyn, t) | (t, Type::Dyn) if t.is_numeric() || adds => Type::Dyn,
                    (Type::Int, Type::Int) => Type::Int,
                    (Type::Double, Type::Double) => Type::Double,
                    (Type::String, Type::String) if adds => Type::String,
                    (Type::List(a), Type::List(b)) if adds => {
                        Type::List(Box::new(if a == b { (**a).clone() } else { Type::Dyn }))
                    }
                    _ => {
                        let (left, right) = (
                            self.describe(operands[0], ta),
                            self.describe(operands[1], tb),
                        );
                        let hint = if ta.is_numeric() && tb.is_numeric() {
                            " (write 1.0 for a double, or convert with double())"
                        } else {
                            ""
                        };
                        self.error(
                            operands[0],
                            format!("`{symbol}` cannot combine {left} and {right}{hint}"),
                        );
                        Type::Dyn
                    }
                }
            }
            operators::NEGATE => {
                self.strictly(operands[0]);
                if !types[0].is_numeric() {
                    let what = self.describe(operands[0], &types[0]);
                    self.error(operands[0], format!("`-` negates a number, not {what}"));
                }
                types[0].clone()
            }
            operators::CONDITIONAL => {
                self.strictly(operands[0]);
                if !types[0].is_bool() {
                    let what = self.describe(operands[0], &types[0]);
                    self.error(
                        operands[0],
                        format!("`? :` needs true or false before `?`, not {what}"),
                    );
                }
                if types[1] == types[2] {
                    types[1].clone()
                } else {
                    Type::Dyn
                }
            }
            operators::INDEX => {
                self.strictly(operands[0]);
                match &types[0] {
                    Type::List(element) => (**element).clone(),
                    Type::Map | Type::Dyn => Type::Dyn,
                    other => {
                        let what = self.describe(operands[0], other);
                        self.error(
                            operands[0],
                            format!("`[]` indexes a list or a map, not {what}"),
                        );
                        Type::Dyn
                    }
                }
            }
            operators::IN => {
                self.strictly(operands[1]);
                match &types[1] {
                    Type::List(element) if !types[0].meets(element) => {
                        let (left, right) = (
                            self.describe(operands[0], &types[0]),
                            self.describe(operands[1], &types[1]),
                        );
                        self.error(
                            operands[0],
                            format!("`in` looks for {left} in {right}: never found"),
                        );
                    }
                    Type::List(_) | Type::Map | Type::Dyn => {}
                    other => {
                        let what = self.describe(operands[1], other);
                        self.error(
                            operands[1],
                            format!("`in` needs a list or a map on its right, not {what}"),
                        );
                    }
                }
                Type::Bool
            }
            "size" => {
                if let (Some(x), Some(ty)) = (operands.first(), types.first()) {
                    self.strictly(x);
                    if !matches!(
                        ty,
                        Type::String | Type::Bytes | Type::List(_) | Type::Map | Type::Dyn
                    ) {
                        let what = self.describe(x, ty);
                        self.error(
                            x,
                            format!("`size` counts a list, a map or a string, not {what}"),
                        );
                    }
                }
                Type::Int
            }
            "contains" | "startsWith" | "endsWith" | "matches" => {
                for (x, ty) in operands.iter().zip(&types) {
                    self.strictly(x);
                    if !matches!(ty, Type::String | Type::Dyn) {
                        let what = self.describe(x, ty);
                        self.error(x, format!("`{name}` works on strings, not {what}"));
                    }
                }
                Type::Bool
            }
            "int" | "uint" => Type::Int,
            "double" => Type::Double,
            "string" => Type::String,
            "bool" => Type::Bool,
            "bytes" => Type::Bytes,
            "timestamp" => Type::Timestamp,
            "duration" => Type::Duration,
            "dyn" | "type" => Type::Dyn,
            _ if FUNCTIONS.contains(&name) => Type::Int,
            _ => {
                self.error(operands.first().copied().unwrap_or(whole), format!(
                    "unknown function `{name}` (there are: {}, and the macros has, all, exists, exists_one, map, filter)",
                    FUNCTIONS.join(", ")
                ));
                Type::Dyn
            }
        }
    }
}

/// The sub-expression an expression's text starts with: CEL places a field selection at its
/// dot and an operator at its symbol, while the analyst looks for where it begins.
fn leftmost(e: &IdedExpr) -> &IdedExpr {
    match &e.expr {
        Expr::Select(select) => leftmost(&select.operand),
        Expr::Call(call) => match (&call.target, call.args.first()) {
            (Some(target), _) => leftmost(target),
            (None, Some(first)) if call.func_name.starts_with('_') => leftmost(first),
            _ => e,
        },
        _ => e,
    }
}

fn literal_type(literal: &LiteralValue) -> Type {
    match literal {
        LiteralValue::Boolean(_) => Type::Bool,
        LiteralValue::Bytes(_) => Type::Bytes,
        LiteralValue::Double(_) => Type::Double,
        LiteralValue::Int(_) | LiteralValue::UInt(_) => Type::Int,
        LiteralValue::Null => Type::Null,
        LiteralValue::String(_) => Type::String,
    }
}

fn literal_text(literal: &LiteralValue) -> String {
    match literal {
        LiteralValue::Boolean(b) => b.inner().to_string(),
        LiteralValue::Double(d) => format!("{:?}", d.inner()),
        LiteralValue::Int(i) => i.inner().to_string(),
        LiteralValue::UInt(u) => format!("{}u", u.inner()),
        LiteralValue::Null => "null".to_owned(),
        LiteralValue::String(s) => format!("'{}'", s.inner()),
        LiteralValue::Bytes(_) => "bytes".to_owned(),
    }
}

/// `a.b.c` for an identifier with plain field selections on it; `None` otherwise.
pub(super) fn dotted(e: &Expr) -> Option<String> {
    match e {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(sel) if !sel.test => {
            dotted(&sel.operand.expr).map(|base| format!("{base}.{}", sel.field))
        }
        _ => None,
    }
}

//! `Condition`: our wrapper around a compiled CEL program, so the rest of the service
//! never depends on the `cel` crate's types.

use super::RuleError;
use super::bounds::{self, BoundError};
use super::file::Entry;
use super::types::{self, Catalogue, dotted};
use crate::facts::Facts;
use cel::common::ast::{EntryExpr, Expr};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::common::value::Val;
use cel::{Context, Env, IdedExpr, Program, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

/// A compiled rule condition and the fact names it reads.
pub struct Condition {
    program: Program,
    reads: Vec<String>,
    /// Facts read where a `null` makes the condition fail (see [`types::Typing`]).
    strict: Vec<String>,
    /// Facts the condition compares with `null` or tests with `has()`.
    null_checked: Vec<String>,
    cost: u64,
}

/// Why a condition was refused: a mistake in it, or a bound on its size or cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub message: String,
    /// Refused by a bound of [`bounds`], not for a mistake.
    pub too_costly: bool,
    /// The character offset in the condition of the (first) mistake, where known.
    pub at: Option<usize>,
}

impl std::fmt::Display for ConditionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ConditionError {
    fn invalid(message: impl Into<String>) -> ConditionError {
        ConditionError {
            message: message.into(),
            too_costly: false,
            at: None,
        }
    }

    /// The problem as reported for the rule `id` whose condition is at `entry`'s `when`.
    pub fn for_rule(&self, id: &str, text: &str, entry: &Entry) -> RuleError {
        let at = match self.at {
            Some(offset) => entry.in_value(text, "when", offset),
            None => entry.key(text, "when"),
        };
        RuleError {
            too_costly: self.too_costly,
            ..RuleError::in_rule(id, at, format!("condition: {}", self.message))
        }
    }
}

impl From<BoundError> for ConditionError {
    fn from(e: BoundError) -> ConditionError {
        ConditionError {
            message: e.to_string(),
            too_costly: true,
            at: None,
        }
    }
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("reads", &self.reads)
            .finish()
    }
}

impl Condition {
    /// Compiles `source`; every fact it names must be in `catalogue` (an exact fact name,
    /// or a prefix of one such as `sources.pb`), and its types must agree.
    ///
    /// The text is bounded before the CEL parser sees it, and the parsed expression's
    /// estimated evaluation cost after (see [`bounds`]). Type mistakes, unknown functions
    /// and a condition that is constant are refused with every problem named.
    pub fn compile(source: &str, catalogue: &Catalogue) -> Result<Condition, ConditionError> {
        bounds::check_condition_text(source)?;
        // The parser is third-party code reading untrusted text: a panic in it is a
        // refusal of this condition, never the end of the process.
        let program = std::panic::catch_unwind(|| Program::compile(source))
            .map_err(|_| ConditionError::invalid("the condition cannot be parsed"))?
            .map_err(|e| ConditionError::invalid(e.to_string()))?;
        let depth = bounds::depth(program.expression());
        if depth > bounds::MAX_DEPTH {
            return Err(BoundError::TooDeepExpression(depth).into());
        }
        let cost = bounds::estimated_cost(program.expression());
        if cost > bounds::MAX_CONDITION_COST {
            return Err(BoundError::TooCostly(cost).into());
        }
        let mut reads = BTreeSet::new();
        let mut unknown = BTreeSet::new();
        collect(program.expression(), &mut Vec::new(), &mut |path| {
            if catalogue.is_fact(&path) {
                reads.insert(path);
            } else {
                unknown.insert(path);
            }
        });
        if let Some(name) = unknown.into_iter().next() {
            return Err(ConditionError {
                at: source.find(&name).map(|b| source[..b].chars().count()),
                ..ConditionError::invalid(format!("unknown fact `{name}`"))
            });
        }
        let offset = |id| {
            let (start, _) = program.source_info().offset_for(id)?;
            Some(start as usize)
        };
        let typing = types::check(program.expression(), catalogue, &offset);
        if let Some((at, _)) = typing.errors.first() {
            let messages: Vec<&str> = typing.errors.iter().map(|(_, m)| m.as_str()).collect();
            return Err(ConditionError {
                at: *at,
                ..ConditionError::invalid(messages.join("; "))
            });
        }
        let condition = Condition {
            program,
            reads: reads.into_iter().collect(),
            strict: typing.strict.into_iter().collect(),
            null_checked: typing.null_checked.into_iter().collect(),
            cost,
        };
        condition.refuse_constant()?;
        Ok(condition)
    }

    /// A condition whose value the facts cannot change decides nothing: refused.
    fn refuse_constant(&self) -> Result<(), ConditionError> {
        let always = |value: bool, why: &str| {
            Err(ConditionError::invalid(format!(
                "the condition is always {value}{why}: the rule would {} fire",
                if value { "always" } else { "never" }
            )))
        };
        if self.reads.is_empty() {
            let empty = crate::facts::Facts::new();
            return match self.evaluate(&context(&empty)) {
                Ok(value) => always(value, " (it reads no fact)"),
                Err(error) => Err(ConditionError::invalid(format!(
                    "the condition reads no fact and always fails: {error}"
                ))),
            };
        }
        match types::constant(self.program.expression()) {
            Some(value) => always(value, ", whatever the facts"),
            None => Ok(()),
        }
    }

    /// The estimated number of expression nodes one evaluation visits.
    pub fn cost(&self) -> u64 {
        self.cost
    }

    /// The fact names the condition reads, sorted.
    pub fn reads(&self) -> &[String] {
        &self.reads
    }

    /// The facts read where a `null` makes the condition fail, sorted.
    pub fn strict_reads(&self) -> &[String] {
        &self.strict
    }

    /// The facts the condition compares with `null` or tests with `has()`, sorted.
    pub fn null_checked(&self) -> &[String] {
        &self.null_checked
    }

    /// Evaluates against a context built by [`context`]. Anything but a boolean is an error.
    pub fn evaluate(&self, ctx: &Context) -> Result<bool, String> {
        let run =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.program.execute(ctx)));
        let Ok(outcome) = run else {
            return Err("the evaluator failed on this condition".into());
        };
        match outcome {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("the condition gave {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The standard CEL environment, built once: building it registers every standard
/// function and is most of the cost of a fresh context.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// Builds the CEL variables (`company`, `sources`, …) as nested maps from the dotted
/// facts. The values borrow the facts' strings: nothing is copied but the map structure.
pub fn context<'f>(facts: &'f Facts) -> Context<'f, 'f> {
    // Group the dotted names into a tree first, then turn each root into a CEL map.
    #[derive(Default)]
    struct Node<'a> {
        value: Option<&'a serde_json::Value>,
        children: BTreeMap<&'a str, Node<'a>>,
    }
    fn to_val<'a>(node: &Node<'a>) -> Box<dyn Val + 'a> {
        if node.children.is_empty() {
            return node
                .value
                .map_or_else(|| Box::new(CelNull) as Box<dyn Val + 'a>, json_to_val);
        }
        let map: HashMap<CelMapKey<'a>, Box<dyn Val + 'a>> = node
            .children
            .iter()
            .map(|(k, n)| (CelMapKey::from(*k), to_val(n)))
            .collect();
        Box::new(CelMap::from(map))
    }
    let mut root = Node::default();
    for (name, fact) in facts {
        let mut node = &mut root;
        for seg in name.split('.') {
            node = node.children.entry(seg).or_default();
        }
        node.value = Some(&fact.value);
    }
    let mut ctx = Context::with_env(Arc::clone(&STDLIB));
    for (name, node) in &root.children {
        ctx.add_variable_as_val(*name, to_val(node));
    }
    ctx
}

/// A fact's JSON value as a CEL value: integers stay integers, other numbers are doubles.
fn json_to_val(v: &serde_json::Value) -> Box<dyn Val + '_> {
    match v {
        serde_json::Value::Null => Box::new(CelNull),
        serde_json::Value::Bool(b) => Box::new(CelBool::from(*b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Box::new(CelInt::from(i)),
            None => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        serde_json::Value::String(s) => Box::new(CelString::from(s.as_str())),
        serde_json::Value::Array(items) => Box::new(CelList::from(
            items.iter().map(json_to_val).collect::<Vec<_>>(),
        )),
        serde_json::Value::Object(map) => {
            let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = map
                .iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), json_to_val(v)))
                .collect();
            Box::new(CelMap::from(map))
        }
    }
}

/// Walks the expression and reports every dotted name it reads. `bound` holds the
/// variables that comprehension macros (`exists`, `all`, `map`…) introduce.
fn collect(e: &IdedExpr, bound: &mut Vec<String>, report: &mut dyn FnMut(String)) {
    if let Some(path) = dotted(&e.expr) {
        let root = path.split('.').next().unwrap_or_default();
        if !bound.iter().any(|b| b == root) {
            report(path);
        }
        return;
    }
    match &e.expr {
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                collect(target, bound, report);
            }
            for a in &call.args {
                collect(a, bound, report);
            }
        }
        Expr::Select(sel) => {
            // `has(a.b.c)`: the presence test reads `a.b.c`.
            if let Some(base) = dotted(&sel.operand.expr) {
                let root = base.split('.').next().unwrap_or_default().to_owned();
                if !bound.contains(&root) {
                    report(format!("{base}.{}", sel.field));
                }
            } else {
                collect(&sel.operand, bound, report);
            }
        }
        Expr::Comprehension(c) => {
            collect(&c.iter_range, bound, report);
            collect(&c.accu_init, bound, report);
            let added = [
                Some(c.iter_var.clone()),
                c.iter_var2.clone(),
                Some(c.accu_var.clone()),
            ];
            let n = bound.len();
            bound.extend(added.into_iter().flatten());
            collect(&c.loop_cond, bound, report);
            collect(&c.loop_step, bound, report);
            collect(&c.result, bound, report);
            bound.truncate(n);
        }
        Expr::List(list) => list.elements.iter().for_each(|x| collect(x, bound, report)),
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(m) = &entry.expr {
                    collect(&m.key, bound, report);
                    collect(&m.value, bound, report);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    collect(&f.value, bound, report);
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(pairs: &[(&str, serde_json::Value)]) -> Facts {
        crate::facts::from_pairs(pairs, None)
    }

    fn known() -> Catalogue {
        Catalogue::default()
            .with("company.status", "string", "egrul, pb")
            .with("company.age_months", "int", "egrul")
            .with("company.terminated", "bool", "egrul, pb")
            .with("quality.rating_avg", "double", "catalog")
            .with("court.cases", "list<map>", "kad")
            .with("sources.unavailable", "list<string>", "service")
            .with("sources.pb.status", "string", "service")
    }

    fn refusal(source: &str) -> String {
        Condition::compile(source, &known()).unwrap_err().message
    }

    #[test]
    fn mismatched_types_are_refused_with_both_sides_named() {
        let err = refusal("company.age_months < '12'");
        assert!(
            err.contains("`company.age_months` (int)") && err.contains("'12' (string)"),
            "{err}"
        );
        let err = refusal("company.age_months == '12'");
        assert!(err.contains("never true"), "{err}");
        assert!(refusal("company.status > 3").contains("fails on every check"));
        assert!(refusal("company.age_months < null").contains("with null"));
        assert!(refusal("company.age_months + 0.5 > 1.0").contains("write 1.0"));
        assert!(refusal("size(company.age_months) > 0").contains("`size`"));
        assert!(refusal("company.status.startsWith(1)").contains("startsWith"));
        assert!(refusal("3 in sources.unavailable").contains("never found"));
        assert!(refusal("sources.unavailable.exists(s, s > 1)").contains("`s` (string)"));
        // Several mistakes at once are all named.
        let err = refusal("company.age_months < '12' && company.status == 1");
        assert!(err.contains("'12'") && err.contains("1 (int)"), "{err}");
    }

    #[test]
    fn what_is_not_a_mistake_compiles() {
        for ok in [
            "company.age_months < 12.5",
            "quality.rating_avg < 3",
            "company.age_months != null && company.age_months < 12",
            "company.status in ['ACTIVE', 'LIQUIDATING']",
            "'pb' in sources.unavailable",
            "court.cases.exists(c, c.role == 'respondent' && c.amount > 100)",
            "size(court.cases.filter(c, c.year == 2026)) > 2",
            "company.terminated",
            "!company.terminated || company.status.startsWith('LIQ')",
            "sources.pb.status == 'ok' ? company.age_months < 12 : false",
            "dyn(company.status) == 1",
        ] {
            Condition::compile(ok, &known()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn a_condition_that_is_not_a_boolean_is_refused() {
        assert!(refusal("company.status").contains("not true or false"));
        assert!(refusal("company.age_months + 1").contains("not true or false"));
        assert!(refusal("company.age_months && true").contains("`&&` needs true or false"));
    }

    #[test]
    fn unknown_functions_are_refused_and_the_known_ones_exist() {
        let err = refusal("max(company.age_months, 3) > 2");
        assert!(err.contains("unknown function `max`"), "{err}");
        assert!(refusal("company.status.lowerAscii() == 'a'").contains("`lowerAscii`"));
        // Every function the checker accepts is one the evaluator has.
        let ctx = Context::with_env(Arc::clone(&STDLIB));
        for f in types::FUNCTIONS {
            let call = match *f {
                "size" => "size('ab')".to_owned(),
                "contains" | "startsWith" | "endsWith" | "matches" => format!("'ab'.{f}('a')"),
                "timestamp" => "timestamp('2026-01-01T00:00:00Z')".to_owned(),
                "duration" => "duration('1s')".to_owned(),
                "bool" => "bool('true')".to_owned(),
                "bytes" => "bytes('a')".to_owned(),
                name if name.starts_with("get") => {
                    format!("timestamp('2026-01-01T00:00:00Z').{name}()")
                }
                name => format!("{name}(1)"),
            };
            let outcome = Program::compile(&call).unwrap().execute(&ctx);
            assert!(outcome.is_ok(), "{call}: {outcome:?}");
        }
    }

    #[test]
    fn a_constant_condition_is_refused() {
        assert!(refusal("1 < 2").contains("always true"));
        assert!(refusal("'a' == 'b'").contains("always false"));
        assert!(refusal("company.age_months < 12 || true").contains("always true"));
        assert!(refusal("false && company.terminated").contains("always false"));
        assert!(refusal("1 / 0 == 1").contains("always fails"));
    }

    #[test]
    fn strict_and_null_checked_reads_are_recorded() {
        let c = Condition::compile(
            "company.status == 'ACTIVE' && company.age_months != null && company.age_months < 12 && company.terminated",
            &known(),
        )
        .unwrap();
        assert_eq!(
            c.strict_reads(),
            ["company.age_months", "company.terminated"]
        );
        assert_eq!(c.null_checked(), ["company.age_months"]);
    }

    #[test]
    fn collects_the_facts_a_condition_reads() {
        let c = Condition::compile(
            "company.status == 'ACTIVE' && sources.unavailable.exists(s, s == 'pb') && has(sources.pb.status)",
            &known(),
        )
        .unwrap();
        assert_eq!(
            c.reads(),
            ["company.status", "sources.pb.status", "sources.unavailable"]
        );
    }

    #[test]
    fn rejects_unknown_facts_and_bad_syntax() {
        let err = Condition::compile("company.statuz == 'ACTIVE'", &known()).unwrap_err();
        assert!(err.message.contains("company.statuz"), "{err}");
        assert!(!err.too_costly);
        let err = Condition::compile("company.status ==", &known()).unwrap_err();
        assert!(err.message.contains("Syntax error"), "{err}");
        assert!(!err.too_costly);
    }

    #[test]
    fn evaluates_with_null_aware_conditions() {
        let f = facts(&[
            ("company.age_months", json!(null)),
            ("company.status", json!("ACTIVE")),
        ]);
        let ctx = context(&f);
        let guarded = Condition::compile(
            "company.age_months != null && company.age_months < 12",
            &known(),
        )
        .unwrap();
        assert_eq!(guarded.evaluate(&ctx), Ok(false));
        let unguarded = Condition::compile("company.age_months < 12", &known()).unwrap();
        let err = unguarded.evaluate(&ctx).unwrap_err();
        assert!(
            err.to_lowercase().contains("null"),
            "a comparison with null: {err}"
        );
        let f = facts(&[("company.age_months", json!(3))]);
        assert_eq!(guarded.evaluate(&context(&f)), Ok(true));
    }

    #[test]
    fn non_boolean_result_is_an_error() {
        let f = facts(&[("company.status", json!("ACTIVE"))]);
        // Only a value the checker cannot type reaches the evaluator as a non-boolean.
        let c = Condition::compile("dyn(company.status)", &known()).unwrap();
        let err = c.evaluate(&context(&f)).unwrap_err();
        assert!(err.contains("not true or false"), "{err}");
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        /// Expressions built from the pieces rules use: facts, literals, comparisons,
        /// logic, arithmetic, lists, `has()` and the comprehension macros.
        fn expression() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                Just("company.status".to_owned()),
                Just("company.age_months".to_owned()),
                Just("sources.unavailable".to_owned()),
                Just("sources.pb.status".to_owned()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[a-zA-Z ]{0,8}".prop_map(|s| format!("'{s}'")),
                Just("true".to_owned()),
                Just("null".to_owned()),
                Just("x".to_owned()),
            ];
            leaf.prop_recursive(6, 64, 4, |inner| {
                prop_oneof![
                    (
                        inner.clone(),
                        prop::sample::select(vec![
                            "==", "!=", "<", ">=", "&&", "||", "+", "-", "*", "/", "%", "in"
                        ]),
                        inner.clone()
                    )
                        .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                    inner.clone().prop_map(|a| format!("!{a}")),
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|v| format!("[{}]", v.join(", "))),
                    (
                        inner.clone(),
                        prop::sample::select(vec!["exists", "all", "map", "filter", "exists_one"]),
                        inner.clone()
                    )
                        .prop_map(|(list, m, body)| format!("{list}.{m}(x, {body})")),
                    inner.clone().prop_map(|a| format!("size({a})")),
                    Just("has(sources.pb.status)".to_owned()),
                ]
            })
        }

        /// Runs a property on a thread with the compiler's stack, as the service does.
        fn on_compiler_stack(property: impl FnOnce() + Send + 'static) {
            std::thread::Builder::new()
                .stack_size(64 * 1024 * 1024)
                .spawn(property)
                .unwrap()
                .join()
                .expect("the property holds without a panic");
        }

        #[test]
        fn generated_expressions_compile_or_are_refused_and_never_crash_evaluation() {
            on_compiler_stack(|| {
                let f = facts(&[
                    ("company.status", json!("ACTIVE")),
                    ("company.age_months", json!(30)),
                    ("sources.unavailable", json!(["kad"])),
                    ("sources.pb.status", json!("ok")),
                ]);
                let mut runner = TestRunner::new(Config::with_cases(512));
                runner
                    .run(&expression(), |source| {
                        if let Ok(condition) = Condition::compile(&source, &known()) {
                            prop_assert!(condition.cost() <= bounds::MAX_CONDITION_COST);
                            let _ = condition.evaluate(&context(&f));
                        }
                        Ok(())
                    })
                    .unwrap();
            });
        }

        #[test]
        fn arbitrary_text_never_crashes_the_compiler() {
            on_compiler_stack(|| {
                let mut runner = TestRunner::new(Config::with_cases(1024));
                let text = prop_oneof![".{0,400}", "[()\\[\\]{}.+!a-c0-9' ,]{0,3000}",];
                runner
                    .run(&text, |source| {
                        let _ = Condition::compile(&source, &known());
                        Ok(())
                    })
                    .unwrap();
            });
        }
    }
}

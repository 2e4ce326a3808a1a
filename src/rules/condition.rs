//! `Condition`: our wrapper around a compiled CEL program, so the rest of the service
//! never depends on the `cel` crate's types.

use super::RuleError;
use super::bounds::{self, BoundError};
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
    cost: u64,
}

/// Why a condition was refused: a mistake in it, or a bound on its size or cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub message: String,
    /// Refused by a bound of [`bounds`], not for a mistake.
    pub too_costly: bool,
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
        }
    }

    /// The problem as reported for the rule `id` on `line`.
    pub fn for_rule(&self, id: &str, line: usize) -> RuleError {
        RuleError {
            too_costly: self.too_costly,
            rule_id: Some(id.to_owned()),
            line: Some(line),
            message: format!("condition: {}", self.message),
        }
    }
}

impl From<BoundError> for ConditionError {
    fn from(e: BoundError) -> ConditionError {
        ConditionError {
            message: e.to_string(),
            too_costly: true,
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
    /// Compiles `source`; every fact it names must satisfy `is_fact` (an exact fact name,
    /// or a prefix of one such as `sources.pb`).
    ///
    /// The text is bounded before the CEL parser sees it, and the parsed expression's
    /// estimated evaluation cost after (see [`bounds`]).
    pub fn compile(
        source: &str,
        is_fact: &dyn Fn(&str) -> bool,
    ) -> Result<Condition, ConditionError> {
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
            if is_fact(&path) {
                reads.insert(path);
            } else {
                unknown.insert(path);
            }
        });
        if let Some(name) = unknown.into_iter().next() {
            return Err(ConditionError::invalid(format!("unknown fact `{name}`")));
        }
        Ok(Condition {
            program,
            reads: reads.into_iter().collect(),
            cost,
        })
    }

    /// The estimated number of expression nodes one evaluation visits.
    pub fn cost(&self) -> u64 {
        self.cost
    }

    /// The fact names the condition reads, sorted.
    pub fn reads(&self) -> &[String] {
        &self.reads
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

/// `a.b.c` for an identifier with plain field selections on it; `None` otherwise.
fn dotted(e: &Expr) -> Option<String> {
    match e {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(sel) if !sel.test => {
            dotted(&sel.operand.expr).map(|base| format!("{base}.{}", sel.field))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(pairs: &[(&str, serde_json::Value)]) -> Facts {
        crate::facts::from_pairs(pairs, None)
    }

    fn known(name: &str) -> bool {
        [
            "company.status",
            "company.age_months",
            "sources.unavailable",
            "sources.pb.status",
        ]
        .iter()
        .any(|f| *f == name || f.starts_with(&format!("{name}.")))
    }

    #[test]
    fn collects_the_facts_a_condition_reads() {
        let c = Condition::compile(
            "company.status == 'ACTIVE' && sources.unavailable.exists(s, s == 'pb') && has(sources.pb.status)",
            &known,
        )
        .unwrap();
        assert_eq!(
            c.reads(),
            ["company.status", "sources.pb.status", "sources.unavailable"]
        );
    }

    #[test]
    fn rejects_unknown_facts_and_bad_syntax() {
        let err = Condition::compile("company.statuz == 'ACTIVE'", &known).unwrap_err();
        assert!(err.message.contains("company.statuz"), "{err}");
        assert!(!err.too_costly);
        let err = Condition::compile("company.status ==", &known).unwrap_err();
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
            &known,
        )
        .unwrap();
        assert_eq!(guarded.evaluate(&ctx), Ok(false));
        let unguarded = Condition::compile("company.age_months < 12", &known).unwrap();
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
        let c = Condition::compile("company.status", &known).unwrap();
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
                        if let Ok(condition) = Condition::compile(&source, &known) {
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
                        let _ = Condition::compile(&source, &known);
                        Ok(())
                    })
                    .unwrap();
            });
        }
    }
}

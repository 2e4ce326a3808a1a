//! Bounds on untrusted rule text, so a rules file or an API body cannot crash or starve
//! the process: the CEL parser and evaluator recurse per operator (a `when` of 7 500
//! chained `1+1+…` overflowed the stack), and nested comprehensions over list literals
//! grow without limit (a 6 KB nested `map` took 4 GB).
//!
//! The text is measured *before* the parser sees it; the cost of one evaluation is
//! estimated on the parsed expression before it is accepted. Both are pure functions.

use super::RuleError;
use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr};

/// Largest `when` condition, in bytes. Real conditions are one-liners of under 300.
pub const MAX_CONDITION_BYTES: usize = 2048;
/// Deepest nesting of `(`, `[` and `{`.
pub const MAX_NESTING: usize = 24;
/// Most operator characters (`+ - * / % ! < > = & | ? .` and `[`) in one condition; each
/// is a level the parser may recurse into.
pub const MAX_OPERATORS: usize = 160;
/// Deepest parsed expression. The evaluator recurses once per level on the 2 MiB stack
/// of an async worker; measured in a debug build, 48 levels fit and 64 do not.
pub const MAX_DEPTH: usize = 24;
/// Largest estimated cost (expression nodes visited) of one evaluation of one condition.
pub const MAX_CONDITION_COST: u64 = 100_000;
/// Largest estimated cost of evaluating a whole ruleset once.
pub const MAX_RULESET_COST: u64 = 1_000_000;
/// Largest ruleset file, in bytes.
pub const MAX_RULESET_BYTES: usize = 256 * 1024;
/// Most rules in one file.
pub const MAX_RULES: usize = 500;
/// The length assumed for a list a comprehension walks when it is a fact, not a literal
/// (the longest fact lists, court cases and publications, are capped by `max_pages`).
const FACT_LIST_LEN: u64 = 100;

/// Why a text was refused before or after parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundError {
    #[error("the condition is {0} bytes long (at most {MAX_CONDITION_BYTES})")]
    TooLong(usize),
    #[error("brackets nest {0} deep (at most {MAX_NESTING})")]
    TooDeep(usize),
    #[error("the condition has {0} operators (at most {MAX_OPERATORS})")]
    TooManyOperators(usize),
    #[error(
        "the expression nests {0} levels deep (at most {MAX_DEPTH}); split it into simpler rules"
    )]
    TooDeepExpression(usize),
    #[error(
        "one evaluation would visit about {0} expression nodes (at most {MAX_CONDITION_COST}); nest fewer comprehensions or use shorter lists"
    )]
    TooCostly(u64),
}

/// Refuses a whole policy file that is too large, before the TOML parser sees it.
pub fn check_file_size(text: &str) -> Result<(), Vec<RuleError>> {
    if text.len() > MAX_RULESET_BYTES {
        return Err(vec![too_costly(format!(
            "the file is {} bytes long (at most {MAX_RULESET_BYTES})",
            text.len()
        ))]);
    }
    Ok(())
}

/// Refuses a policy with too many rules or whose evaluation, all rules together, costs
/// more than [`MAX_RULESET_COST`] (every check pays it).
pub fn check_rules(costs: impl ExactSizeIterator<Item = u64>) -> Result<(), Vec<RuleError>> {
    if costs.len() > MAX_RULES {
        return Err(vec![too_costly(format!(
            "{} rules (at most {MAX_RULES})",
            costs.len()
        ))]);
    }
    let total = costs.fold(0u64, u64::saturating_add);
    if total > MAX_RULESET_COST {
        return Err(vec![too_costly(format!(
            "one evaluation of every rule would visit about {total} expression nodes (at most {MAX_RULESET_COST})"
        ))]);
    }
    Ok(())
}

fn too_costly(message: String) -> RuleError {
    RuleError {
        column: None,
        too_costly: true,
        rule_id: None,
        line: None,
        message,
    }
}

/// Measures a condition's text without parsing it. String literals are skipped, so an
/// operator inside quotes does not count.
pub fn check_condition_text(source: &str) -> Result<(), BoundError> {
    if source.len() > MAX_CONDITION_BYTES {
        return Err(BoundError::TooLong(source.len()));
    }
    let (mut depth, mut deepest, mut operators) = (0usize, 0usize, 0usize);
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                // Skip to the matching unescaped quote.
                let mut escaped = false;
                for s in chars.by_ref() {
                    match s {
                        '\\' if !escaped => escaped = true,
                        q if q == c && !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            '(' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '[' => {
                depth += 1;
                deepest = deepest.max(depth);
                operators += 1;
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '!' | '<' | '>' | '=' | '&' | '|' | '?' | '.' => {
                operators += 1
            }
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(BoundError::TooDeep(deepest));
    }
    if operators > MAX_OPERATORS {
        return Err(BoundError::TooManyOperators(operators));
    }
    Ok(())
}

/// The depth of a parsed expression (a literal is 1).
pub fn depth(e: &IdedExpr) -> usize {
    let children: Vec<&IdedExpr> = match &e.expr {
        Expr::Call(call) => call
            .target
            .as_deref()
            .into_iter()
            .chain(&call.args)
            .collect(),
        Expr::Select(sel) => vec![&sel.operand],
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map.entries.iter().flat_map(entry_children).collect(),
        Expr::Struct(s) => s.entries.iter().flat_map(entry_children).collect(),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    };
    1 + children.into_iter().map(depth).max().unwrap_or(0)
}

fn entry_children(entry: &cel::common::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
        EntryExpr::StructField(f) => vec![&f.value],
    }
}

/// Estimates how many expression nodes one evaluation visits: every node once, times the
/// length of each comprehension's list around it (a literal's length, or
/// [`FACT_LIST_LEN`] for a fact). Saturates instead of overflowing.
pub fn estimated_cost(e: &IdedExpr) -> u64 {
    fn walk(e: &IdedExpr, times: u64) -> u64 {
        let here = times;
        let inner = match &e.expr {
            Expr::Call(call) => {
                call.target.as_deref().map_or(0, |t| walk(t, times))
                    + call.args.iter().map(|a| walk(a, times)).sum::<u64>()
            }
            Expr::Select(sel) => walk(&sel.operand, times),
            Expr::Comprehension(c) => {
                let len = match &c.iter_range.expr {
                    Expr::List(list) => list.elements.len() as u64,
                    _ => FACT_LIST_LEN,
                };
                let each = times.saturating_mul(len.max(1));
                walk(&c.iter_range, times)
                    .saturating_add(walk(&c.accu_init, times))
                    .saturating_add(walk(&c.loop_cond, each))
                    .saturating_add(walk(&c.loop_step, each))
                    .saturating_add(walk(&c.result, times))
            }
            Expr::List(list) => list.elements.iter().map(|x| walk(x, times)).sum(),
            Expr::Map(map) => map
                .entries
                .iter()
                .flat_map(entry_children)
                .map(|x| walk(x, times))
                .sum(),
            Expr::Struct(s) => s
                .entries
                .iter()
                .flat_map(entry_children)
                .map(|x| walk(x, times))
                .sum(),
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => 0,
        };
        here.saturating_add(inner)
    }
    walk(e, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_conditions_pass() {
        for c in [
            "company.status == 'ACTIVE'",
            "sources.unavailable.exists(s, s == 'pb') && company.age_months != null && company.age_months < 12",
            "'a+b+c.d[0]' == company.name",
        ] {
            assert_eq!(check_condition_text(c), Ok(()), "{c}");
        }
    }

    #[test]
    fn long_chains_and_deep_nesting_are_refused_before_parsing() {
        let chain = vec!["1"; 7_500].join("+");
        assert!(matches!(
            check_condition_text(&chain),
            Err(BoundError::TooLong(_))
        ));
        let short_chain = vec!["1"; 500].join("+");
        assert_eq!(
            check_condition_text(&short_chain),
            Err(BoundError::TooManyOperators(499))
        );
        let dots = format!("a{}", ".b".repeat(400));
        assert!(matches!(
            check_condition_text(&dots),
            Err(BoundError::TooManyOperators(400))
        ));
        let index = format!("a{}", "[0]".repeat(200));
        assert_eq!(
            check_condition_text(&index),
            Err(BoundError::TooManyOperators(200))
        );
        let parens = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(check_condition_text(&parens), Err(BoundError::TooDeep(100)));
    }

    #[test]
    fn operators_inside_strings_do_not_count() {
        let text = format!("company.name == '{}'", "+".repeat(1_000));
        assert_eq!(check_condition_text(&text), Ok(()));
        let escaped = format!("company.name == 'it\\'s {}'", "+".repeat(500));
        assert_eq!(check_condition_text(&escaped), Ok(()));
    }

    fn cost(source: &str) -> u64 {
        estimated_cost(cel::Program::compile(source).unwrap().expression())
    }

    #[test]
    fn nested_comprehensions_over_long_literals_cost_more_than_allowed() {
        assert!(cost("company.status == 'ACTIVE'") < 10);
        let list = format!("[{}]", vec!["1"; 300].join(","));
        let nested = format!("{list}.map(x, {list}.map(y, x + y)).size() > 0");
        assert!(cost(&nested) > MAX_CONDITION_COST, "{}", cost(&nested));
        let single = format!("{list}.exists(x, x == 2)");
        assert!(cost(&single) < MAX_CONDITION_COST, "{}", cost(&single));
        assert!(cost("court.cases.exists(c, c.role == 'respondent')") < 2_000);
    }

    /// Whatever passes the bounds evaluates inside the 2 MiB stack of an async worker.
    #[test]
    fn the_deepest_allowed_expressions_evaluate_on_a_worker_sized_stack() {
        let shapes = [
            format!("{} > 0", vec!["1"; MAX_DEPTH - 2].join("+")),
            format!("{}true{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING)),
            format!("{}true", "!".repeat(MAX_DEPTH - 1)),
            format!(
                "{}1{} == [1]",
                "[".repeat(MAX_DEPTH - 3),
                "]".repeat(MAX_DEPTH - 3)
            ),
            format!("{{'a': 1}}{} == 1", ".a".repeat(MAX_DEPTH - 3)),
        ];
        // Parsing recurses far deeper than evaluating: it gets the compiler's stack.
        let compiler = std::thread::Builder::new()
            .stack_size(64 * 1024 * 1024)
            .spawn(move || {
                let mut programs = Vec::new();
                for shape in &shapes {
                    check_condition_text(shape).unwrap_or_else(|e| panic!("{e}: {shape}"));
                    let program = cel::Program::compile(shape).unwrap();
                    assert!(depth(program.expression()) <= MAX_DEPTH, "{shape}");
                    programs.push(program);
                }
                programs
            })
            .unwrap();
        let programs = compiler.join().unwrap();
        let worker = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                for program in &programs {
                    let _ = program.execute(&cel::Context::default());
                }
            })
            .unwrap();
        worker.join().expect("no stack overflow");
    }

    #[test]
    fn long_chains_are_too_deep_once_parsed() {
        let chain = format!("{} > 0", vec!["1"; 100].join("+"));
        assert_eq!(check_condition_text(&chain), Ok(()));
        let program = cel::Program::compile(&chain).unwrap();
        assert!(depth(program.expression()) > MAX_DEPTH);
    }
}

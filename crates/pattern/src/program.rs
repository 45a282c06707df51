//! Boolean expressions compiled to a branch program: each node tests one condition and names
//! where to go on true and on false, so evaluation is a loop with no recursion and no allocation.
//!
//! `a && (b || c)` becomes `a ? (b ? ACCEPT : (c ? ACCEPT : REJECT)) : REJECT`. The node that jumps
//! to ACCEPT or REJECT is the clause that decided the result, which is what `--explain` reports.

use crate::ast::Expr;

/// Where a branch goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Node(u32),
    Accept,
    Reject,
}

#[derive(Debug, Clone)]
struct Branch {
    cond: u32,
    on_true: Target,
    on_false: Target,
}

/// A compiled expression over conditions of type `C`.
#[derive(Debug, Clone)]
pub(crate) struct Program<C> {
    conds: Vec<C>,
    branches: Vec<Branch>,
    entry: Target,
}

impl<C: Clone> Program<C> {
    /// Compiles `expr`, giving each condition an id in left-to-right order.
    pub(crate) fn compile(expr: &Expr<C>) -> Program<C> {
        let mut conds = Vec::new();
        expr.for_each(&mut |c: &C| conds.push(c.clone()));
        let mut program = Program {
            conds,
            branches: Vec::new(),
            entry: Target::Accept,
        };
        // Branches are built right to left (a branch needs its targets first), so condition ids
        // are handed out counting down from the right: the leftmost condition gets id 0.
        let mut cursor = program.conds.len();
        program.entry = program.build(expr, Target::Accept, Target::Reject, &mut cursor);
        program
    }

    /// Builds `expr` so that it continues at `t` when true and `f` when false; returns its entry.
    /// `cursor` counts conditions down from the right.
    fn build(&mut self, expr: &Expr<C>, t: Target, f: Target, cursor: &mut usize) -> Target {
        match expr {
            Expr::Cond(_) => {
                *cursor -= 1;
                self.branches.push(Branch {
                    cond: *cursor as u32,
                    on_true: t,
                    on_false: f,
                });
                Target::Node((self.branches.len() - 1) as u32)
            }
            Expr::And(items) => {
                let mut next = t;
                for item in items.iter().rev() {
                    next = self.build(item, next, f, cursor);
                }
                next
            }
            Expr::Or(items) => {
                let mut next = f;
                for item in items.iter().rev() {
                    next = self.build(item, t, next, cursor);
                }
                next
            }
        }
    }

    /// The conditions, by id.
    pub(crate) fn conds(&self) -> &[C] {
        &self.conds
    }

    /// Runs the program: `test(cond_id, cond)` evaluates one condition. Returns the result and the
    /// id of the condition that decided it (`None` only for an empty program).
    pub(crate) fn run(&self, mut test: impl FnMut(u32, &C) -> bool) -> (bool, Option<u32>) {
        let mut at = self.entry;
        let mut last = None;
        loop {
            match at {
                Target::Accept => return (true, last),
                Target::Reject => return (false, last),
                Target::Node(i) => {
                    let b = &self.branches[i as usize];
                    last = Some(b.cond);
                    at = if test(b.cond, &self.conds[b.cond as usize]) {
                        b.on_true
                    } else {
                        b.on_false
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &Expr<char>, truth: &str) -> (bool, Option<u32>) {
        let p = Program::compile(expr);
        p.run(|_, c| truth.contains(*c))
    }

    #[test]
    fn short_circuit_and_precedence() {
        use Expr::*;
        // a || b && c   ==   a || (b && c)
        let e = Or(vec![Cond('a'), And(vec![Cond('b'), Cond('c')])]);
        assert_eq!(eval(&e, "a"), (true, Some(0)));
        assert_eq!(eval(&e, "bc"), (true, Some(2)));
        assert_eq!(eval(&e, "b"), (false, Some(2)));
        assert_eq!(eval(&e, "c"), (false, Some(1)));
        let e = And(vec![Cond('a'), Or(vec![Cond('b'), Cond('c')])]);
        assert_eq!(eval(&e, "ac"), (true, Some(2)));
        assert_eq!(eval(&e, "bc"), (false, Some(0)));
        assert_eq!(eval(&Cond('x'), ""), (false, Some(0)));
    }
}

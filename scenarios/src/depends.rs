//! Dependencies between scenarios (`depends_on`) across files: names that
//! no scenario has, and cycles. One file sees neither: `probe validate`
//! checks cycles among the files it is given (the others may live
//! elsewhere), the scheduler's catalog both, over the whole catalog.
//!
//! A cycle would let two outages suppress each other's alerts, so that
//! nobody is paged: it is refused, at the entry that closes it.

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostic;
use crate::suggest;
use crate::validate::depends_on_spans;

/// One scenario of the graph.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub name: &'a str,
    pub depends_on: &'a [String],
    /// The file's text, where its errors point. `None`: a version already
    /// in service (a catalog's last good one), whose entries count as they
    /// are and are never blamed.
    pub source: Option<&'a str>,
}

/// Whether a name that no node has is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// The files given are not all there is (`probe validate`).
    Allowed,
    /// The nodes are the whole catalog.
    Error,
}

/// Every dependency error, as (index of the node whose file it is in, the
/// diagnostic), in node order. A cycle is reported once, in the file of
/// the entry that closes it when the nodes are walked in order.
pub fn check(nodes: &[Node<'_>], unknown: Unknown) -> Vec<(usize, Diagnostic)> {
    let index: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.name, i)).collect();
    let mut out = Vec::new();
    if unknown == Unknown::Error {
        for (i, node) in nodes.iter().enumerate() {
            let Some(source) = node.source else { continue };
            for dep in node
                .depends_on
                .iter()
                .filter(|d| !index.contains_key(d.as_str()))
            {
                let diag = Diagnostic::new(
                    format!("unknown scenario `{dep}` in `depends_on`"),
                    entry_span(source, dep),
                    "expected the name of a scenario in the catalog",
                )
                .with_help_opt(suggest::did_you_mean(dep, index.keys().copied()));
                out.push((i, diag));
            }
        }
    }
    for (from, to, cycle) in cycles(nodes, &index) {
        let Some(source) = nodes[from].source else {
            continue;
        };
        let path: Vec<&str> = cycle.iter().map(|&i| nodes[i].name).collect();
        let diag = Diagnostic::new(
            format!("dependency cycle: {}", path.join(" → ")),
            entry_span(source, nodes[to].name),
            "this entry closes the cycle",
        )
        .with_help(
            "scenarios in a cycle would suppress each other's alerts; remove one of these entries",
        );
        out.push((from, diag));
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

/// The span of the `depends_on` entry naming `dep`, else the file start.
fn entry_span(source: &str, dep: &str) -> std::ops::Range<usize> {
    depends_on_spans(source)
        .into_iter()
        .find(|e| e.get_ref() == dep)
        .map_or(0..0, |e| e.span())
}

/// State of a node in the depth-first walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    OnPath,
    Done,
}

/// Each cycle found by a depth-first walk in node order, as the edge to
/// blame (from, to) and the cycle's nodes, first one repeated at the end.
/// The blamed edge is the closing one, or the last edge of the cycle whose
/// file may be blamed when the closing one's may not.
fn cycles(nodes: &[Node<'_>], index: &BTreeMap<&str, usize>) -> Vec<(usize, usize, Vec<usize>)> {
    let edges: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            n.depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let mut mark = vec![Mark::New; nodes.len()];
    let mut found = Vec::new();
    for start in 0..nodes.len() {
        if mark[start] != Mark::New {
            continue;
        }
        // The path from `start`, each node with the next edge to follow.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::OnPath;
        while let Some(last) = path.last_mut() {
            let node = last.0;
            let Some(&to) = edges[node].get(last.1) else {
                mark[node] = Mark::Done;
                path.pop();
                continue;
            };
            last.1 += 1;
            match mark[to] {
                Mark::New => {
                    mark[to] = Mark::OnPath;
                    path.push((to, 0));
                }
                Mark::OnPath => {
                    let from_at = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
                    let mut cycle: Vec<usize> = path[from_at..].iter().map(|(n, _)| *n).collect();
                    cycle.push(to);
                    let blamed = cycle
                        .windows(2)
                        .rev()
                        .find(|w| nodes[w[0]].source.is_some())
                        .map_or((node, to), |w| (w[0], w[1]));
                    found.push((blamed.0, blamed.1, cycle));
                }
                Mark::Done => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node<'a>(name: &'a str, deps: &'a [String], source: Option<&'a str>) -> Node<'a> {
        Node {
            name,
            depends_on: deps,
            source,
        }
    }

    #[test]
    fn a_cycle_is_blamed_on_the_entry_that_closes_it() {
        let a_deps = vec!["b".to_string()];
        let b_deps = vec!["c".to_string(), "a".to_string()];
        let a_src = "depends_on = [\"b\"]\n";
        let b_src = "depends_on = [\"c\", \"a\"]\n";
        let nodes = [
            node("a", &a_deps, Some(a_src)),
            node("b", &b_deps, Some(b_src)),
        ];
        let errors = check(&nodes, Unknown::Allowed);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (file, diag) = &errors[0];
        assert_eq!(*file, 1);
        assert_eq!(diag.title, "dependency cycle: a → b → a");
        assert_eq!(&b_src[diag.span.clone()], "\"a\"");
        assert_eq!(diag.line_col(b_src), (1, 20), "at `\"a\"`, line:col");
        let errors = check(&nodes, Unknown::Error);
        assert_eq!(errors.len(), 2, "the unknown `c` too: {errors:?}");
        assert_eq!(errors[0].1.title, "unknown scenario `c` in `depends_on`");
    }

    #[test]
    fn a_version_in_service_is_never_blamed() {
        let a_deps = vec!["b".to_string()];
        let b_deps = vec!["a".to_string(), "gone".to_string()];
        let a_src = "depends_on = [\"b\"]\n";
        let nodes = [node("a", &a_deps, Some(a_src)), node("b", &b_deps, None)];
        let errors = check(&nodes, Unknown::Error);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, 0);
        assert_eq!(errors[0].1.title, "dependency cycle: a → b → a");
    }

    #[test]
    fn a_chain_and_a_diamond_are_no_cycles() {
        let one = vec!["base".to_string()];
        let two = vec!["base".to_string(), "mid".to_string()];
        let none: Vec<String> = Vec::new();
        let nodes = [
            node("top", &two, Some("")),
            node("mid", &one, Some("")),
            node("base", &none, Some("")),
        ];
        assert!(check(&nodes, Unknown::Error).is_empty());
    }
}

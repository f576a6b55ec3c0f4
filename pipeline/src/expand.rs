//! Template expansion: one `nodes:` entry with `foreach` becomes one node
//! per combination of its variables' values.

use std::collections::BTreeMap;

use serde_yaml::Value as Yaml;

use crate::config::{InputRef, NodeTemplate};

/// One concrete node as written, before its stage is consulted.
#[derive(Debug, Clone)]
pub struct NodeDecl {
    pub name: String,
    pub stage: String,
    pub params: serde_yaml::Mapping,
    pub inputs: BTreeMap<String, Vec<String>>,
}

/// Expands every template, in file order.
pub fn expand(templates: &[NodeTemplate]) -> Vec<NodeDecl> {
    templates.iter().flat_map(expand_one).collect()
}

fn expand_one(t: &NodeTemplate) -> Vec<NodeDecl> {
    let mut bindings: Vec<Vec<(String, Yaml)>> = vec![Vec::new()];
    for (var, values) in &t.foreach {
        bindings = bindings
            .into_iter()
            .flat_map(|b| {
                values.iter().map(move |v| {
                    let mut b = b.clone();
                    b.push((var.clone(), v.clone()));
                    b
                })
            })
            .collect();
    }
    bindings
        .iter()
        .map(|b| NodeDecl {
            name: substitute(&t.name, b),
            stage: t.stage.clone(),
            params: t
                .params
                .iter()
                .map(|(k, v)| (k.clone(), substitute_value(v, b)))
                .collect(),
            inputs: t
                .inputs
                .iter()
                .map(|(slot, r): (&String, &InputRef)| {
                    (
                        slot.clone(),
                        r.patterns().iter().map(|p| substitute(p, b)).collect(),
                    )
                })
                .collect(),
        })
        .collect()
}

fn scalar_text(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn substitute(text: &str, bindings: &[(String, Yaml)]) -> String {
    bindings.iter().fold(text.to_string(), |acc, (var, value)| {
        acc.replace(&format!("{{{var}}}"), &scalar_text(value))
    })
}

/// A value that is exactly `{var}` takes the variable's typed value;
/// otherwise variables are substituted as text inside strings.
fn substitute_value(v: &Yaml, bindings: &[(String, Yaml)]) -> Yaml {
    match v {
        Yaml::String(s) => {
            for (var, value) in bindings {
                if *s == format!("{{{var}}}") {
                    return value.clone();
                }
            }
            Yaml::String(substitute(s, bindings))
        }
        Yaml::Sequence(items) => Yaml::Sequence(
            items
                .iter()
                .map(|i| substitute_value(i, bindings))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreach_is_a_cartesian_product_with_typed_values() {
        let t: NodeTemplate = serde_yaml::from_str(
            "name: n_{a}_{b}\nstage: s\nparams: {x: '{a}', label: 'v{b}'}\ninputs: {t: 'up_{a}'}\nforeach: {a: [1, 2], b: [p, q]}",
        )
        .unwrap();
        let nodes = expand(&[t]);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["n_1_p", "n_1_q", "n_2_p", "n_2_q"]);
        assert_eq!(nodes[3].params.get("x").unwrap().as_i64(), Some(2));
        assert_eq!(nodes[3].params.get("label").unwrap().as_str(), Some("vq"));
        assert_eq!(nodes[3].inputs["t"], vec!["up_2".to_string()]);
    }

    #[test]
    fn globs() {
        assert!(glob_match("chain_*_9", "chain_12_9"));
        assert!(!glob_match("chain_*_9", "chain_12_8"));
        assert!(glob_match("*", "x"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}

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

/// Variable bindings of one instance of a template.
pub type Bindings = Vec<(String, Yaml)>;

/// Expands every template, in file order. `rows` holds, by node name, the
/// rows of the nodes that `foreach_rows` templates name.
pub fn expand(templates: &[NodeTemplate], rows: &BTreeMap<String, Vec<Bindings>>) -> Vec<NodeDecl> {
    templates.iter().flat_map(|t| expand_one(t, rows)).collect()
}

fn expand_one(t: &NodeTemplate, rows: &BTreeMap<String, Vec<Bindings>>) -> Vec<NodeDecl> {
    let mut bindings: Vec<Bindings> = match &t.foreach_rows {
        Some(node) => rows.get(node).cloned().unwrap_or_default(),
        None => vec![Vec::new()],
    };
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
                        r.patterns()
                            .iter()
                            .flat_map(|p| substitute_ref(p, b))
                            .collect(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// An input reference with its variables substituted; a list-valued
/// variable makes one reference per element (`z_{sources}` with sources
/// [tag, bpm] gives z_tag and z_bpm; an empty list gives none).
fn substitute_ref(pattern: &str, bindings: &[(String, Yaml)]) -> Vec<String> {
    for (var, value) in bindings {
        let placeholder = format!("{{{var}}}");
        if let (Yaml::Sequence(items), true) = (value, pattern.contains(&placeholder)) {
            return items
                .iter()
                .flat_map(|item| {
                    substitute_ref(&pattern.replace(&placeholder, &scalar_text(item)), bindings)
                })
                .collect();
        }
    }
    vec![substitute(pattern, bindings)]
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
        let nodes = expand(&[t], &BTreeMap::new());
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["n_1_p", "n_1_q", "n_2_p", "n_2_q"]);
        assert_eq!(nodes[3].params.get("x").unwrap().as_i64(), Some(2));
        assert_eq!(nodes[3].params.get("label").unwrap().as_str(), Some("vq"));
        assert_eq!(nodes[3].inputs["t"], vec!["up_2".to_string()]);
    }

    #[test]
    fn rows_expand_templates_and_list_variables_expand_references() {
        let t: NodeTemplate = serde_yaml::from_str(
            "name: train_{run}\nstage: s\nparams: {sources: '{sources}', seed: '{seed}'}\ninputs: {targets: 'z_{sources}', mel: mel}\nforeach_rows: design",
        )
        .unwrap();
        let row = |run: &str, sources: &[&str], seed: i64| -> Bindings {
            vec![
                ("run".into(), Yaml::from(run)),
                (
                    "sources".into(),
                    Yaml::Sequence(sources.iter().map(|s| Yaml::from(*s)).collect()),
                ),
                ("seed".into(), Yaml::from(seed)),
            ]
        };
        let rows = BTreeMap::from([(
            "design".to_string(),
            vec![row("a", &["tag", "bpm"], 7), row("b", &[], 8)],
        )]);
        let nodes = expand(&[t], &rows);
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].name, "train_a");
        assert_eq!(nodes[0].inputs["targets"], ["z_tag", "z_bpm"]);
        assert!(nodes[1].inputs["targets"].is_empty());
        assert_eq!(nodes[0].inputs["mel"], ["mel"]);
        assert_eq!(nodes[0].params.get("seed").unwrap().as_i64(), Some(7));
        assert_eq!(
            nodes[0]
                .params
                .get("sources")
                .unwrap()
                .as_sequence()
                .unwrap()
                .len(),
            2
        );
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

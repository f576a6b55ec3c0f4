//! Template expansion: one `nodes:` entry with `foreach` becomes one node
//! per combination of its variables' values. The count is bounded before
//! anything is built, and every name is checked once expanded.

use std::collections::BTreeMap;

use serde_yaml::Value as Yaml;

use crate::config::{Config, InputRef, NodeTemplate};
use crate::error::{PipelineError, Result};

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

/// Expands every template of `config`, in file order. `rows` holds, by
/// node name, the rows of the nodes that `foreach_rows` templates name.
/// Fails, before expanding anything, when the nodes would number more than
/// `config.max_nodes()`, and on the first name that [`check_name`] refuses.
pub fn expand(config: &Config, rows: &BTreeMap<String, Vec<Bindings>>) -> Result<Vec<NodeDecl>> {
    let limit = config.max_nodes();
    let template_err = |index: usize, t: &NodeTemplate, message: String| PipelineError::Template {
        path: config.path.display().to_string(),
        index,
        template: t.name.escape_debug().to_string(),
        message,
    };
    let mut total = 0usize;
    for (index, t) in config.nodes.iter().enumerate() {
        let count = instance_count(t, rows);
        match count
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= limit)
        {
            Some(n) => total += n,
            None => {
                let shown = count.map_or("more than 2^128".to_string(), |n| n.to_string());
                return Err(template_err(
                    index,
                    t,
                    format!(
                        "expands to {shown} nodes ({}), above the limit of {limit} \
                         (raise `max_nodes:` at the top of the file if that is meant)",
                        factors(t, rows)
                    ),
                ));
            }
        }
    }
    if total > limit {
        return Err(PipelineError::Yaml {
            path: config.path.display().to_string(),
            message: format!(
                "the templates expand to {total} nodes, above the limit of {limit} \
                 (raise `max_nodes:` at the top of the file if that is meant)"
            ),
        });
    }
    let mut decls = Vec::with_capacity(total);
    for (index, t) in config.nodes.iter().enumerate() {
        for decl in expand_one(t, rows) {
            check_name(&decl.name).map_err(|why| {
                template_err(
                    index,
                    t,
                    format!("node name `{}` {why}", decl.name.escape_debug()),
                )
            })?;
            decls.push(decl);
        }
    }
    Ok(decls)
}

/// How many nodes `t` expands to (rows times the product of its `foreach`
/// list lengths); `None` past `u128`.
fn instance_count(t: &NodeTemplate, rows: &BTreeMap<String, Vec<Bindings>>) -> Option<u128> {
    let base = match &t.foreach_rows {
        Some(node) => rows.get(node).map_or(0, Vec::len),
        None => 1,
    };
    t.foreach.values().try_fold(base as u128, |n, values| {
        n.checked_mul(values.len() as u128)
    })
}

/// The factors of [`instance_count`], for its message: `a: 20 × b: 20`.
fn factors(t: &NodeTemplate, rows: &BTreeMap<String, Vec<Bindings>>) -> String {
    let rows = t
        .foreach_rows
        .iter()
        .map(|node| format!("rows of `{node}`: {}", rows.get(node).map_or(0, Vec::len)));
    let lists = t
        .foreach
        .iter()
        .map(|(var, values)| format!("{var}: {}", values.len()));
    rows.chain(lists).collect::<Vec<_>>().join(" × ")
}

/// The longest node name, in bytes: a name becomes a file name under
/// `.pipeline/refs` (with a suffix), and file names end at 255 bytes.
pub const MAX_NAME_BYTES: usize = 200;

/// Why `name` cannot name a node, if it cannot: names become file names
/// (`.pipeline/refs/<name>.json`) and appear in terminals and dot files, so
/// they must be one visible path component.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "is {} bytes long, above the limit of {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    if name.contains("..") {
        return Err("contains `..`".into());
    }
    if name.trim() != name {
        return Err("starts or ends with white space".into());
    }
    for c in name.chars() {
        if c == '/' || c == '\\' {
            return Err(format!("contains `{c}`"));
        }
        if c.is_control() {
            return Err(format!("contains the control character U+{:04X}", c as u32));
        }
        if is_invisible_format(c) {
            return Err(format!(
                "contains the invisible formatting character U+{:04X}",
                c as u32
            ));
        }
    }
    Ok(())
}

/// Bidirectional controls (which can make a name read as another one) and
/// zero-width characters.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
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

    fn config(text: &str) -> Config {
        Config::parse(text, std::path::Path::new("p.yaml")).unwrap()
    }

    fn one(template: &str) -> Config {
        config(&format!("nodes:\n  - {}", template.replace('\n', "\n    ")))
    }

    #[test]
    fn foreach_is_a_cartesian_product_with_typed_values() {
        let c = one(
            "name: n_{a}_{b}\nstage: s\nparams: {x: '{a}', label: 'v{b}'}\ninputs: {t: 'up_{a}'}\nforeach: {a: [1, 2], b: [p, q]}",
        );
        let nodes = expand(&c, &BTreeMap::new()).unwrap();
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["n_1_p", "n_1_q", "n_2_p", "n_2_q"]);
        assert_eq!(nodes[3].params.get("x").unwrap().as_i64(), Some(2));
        assert_eq!(nodes[3].params.get("label").unwrap().as_str(), Some("vq"));
        assert_eq!(nodes[3].inputs["t"], vec!["up_2".to_string()]);
    }

    #[test]
    fn rows_expand_templates_and_list_variables_expand_references() {
        let c = one(
            "name: train_{run}\nstage: s\nparams: {sources: '{sources}', seed: '{seed}'}\ninputs: {targets: 'z_{sources}', mel: mel}\nforeach_rows: design",
        );
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
        let nodes = expand(&c, &rows).unwrap();
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
    fn a_foreach_bomb_is_refused_by_its_count() {
        let values = format!(
            "[{}]",
            (0..20)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let c = config(&format!(
            "nodes:\n  - name: ok\n    stage: s\n  - name: n_{{a}}_{{b}}_{{c}}_{{d}}_{{e}}\n    stage: s\n    \
             foreach: {{a: {values}, b: {values}, c: {values}, d: {values}, e: {values}}}\n"
        ));
        let err = expand(&c, &BTreeMap::new()).unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yaml: nodes[1] `n_{a}_{b}_{c}_{d}_{e}`: expands to 3200000 nodes \
             (a: 20 × b: 20 × c: 20 × d: 20 × e: 20), above the limit of 100000 \
             (raise `max_nodes:` at the top of the file if that is meant)"
        );
        let huge = format!("[{}]", vec!["x"; 100].join(", "));
        let vars: Vec<String> = (0..20).map(|i| format!("v{i}: {huge}")).collect();
        let c = config(&format!(
            "nodes:\n  - name: n\n    stage: s\n    foreach: {{{}}}\n",
            vars.join(", ")
        ));
        let err = expand(&c, &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("expands to more than 2^128 nodes"), "{err}");
    }

    #[test]
    fn the_limit_counts_all_templates_and_is_configurable() {
        let c = config(
            "max_nodes: 3\nnodes:\n  - name: a_{i}\n    stage: s\n    foreach: {i: [1, 2]}\n  \
             - name: b_{i}\n    stage: s\n    foreach: {i: [1, 2]}\n",
        );
        let err = expand(&c, &BTreeMap::new()).unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yaml: the templates expand to 4 nodes, above the limit of 3 \
             (raise `max_nodes:` at the top of the file if that is meant)"
        );
    }

    #[test]
    fn bad_names_are_refused_with_template_and_name() {
        let c = one("name: out_{v}\nstage: s\nforeach: {v: [fine, '../../x']}");
        let err = expand(&c, &BTreeMap::new()).unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yaml: nodes[0] `out_{v}`: node name `out_../../x` contains `..`"
        );
        let c = one("name: \"evil\\u202Etxt.exe\"\nstage: s");
        let err = expand(&c, &BTreeMap::new()).unwrap_err().to_string();
        assert!(
            err.ends_with("node name `evil\\u{202e}txt.exe` contains the invisible formatting character U+202E"),
            "{err}"
        );
    }

    #[test]
    fn name_rules() {
        let longest = "x".repeat(MAX_NAME_BYTES);
        for good in [
            "a",
            "train_run-1.final",
            "say \"hi\"",
            "é_{x}",
            longest.as_str(),
        ] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        let cases = [
            ("", "is empty"),
            ("/tmp/victim", "contains `/`"),
            ("a\\b", "contains `\\`"),
            ("..", "contains `..`"),
            ("a..b", "contains `..`"),
            (" a", "starts or ends with white space"),
            ("a\nb", "contains the control character U+000A"),
            ("a\u{1b}[31m", "contains the control character U+001B"),
            (
                "a\u{2066}b",
                "contains the invisible formatting character U+2066",
            ),
            (
                "a\u{200f}",
                "contains the invisible formatting character U+200F",
            ),
            (
                "a\u{061c}",
                "contains the invisible formatting character U+061C",
            ),
        ];
        for (bad, why) in cases {
            assert_eq!(check_name(bad), Err(why.to_string()), "{bad:?}");
        }
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        assert!(check_name(&long).unwrap_err().contains("201 bytes"));
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

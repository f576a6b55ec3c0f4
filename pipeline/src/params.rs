//! Checking a node's YAML parameters against its stage's declaration, and
//! their canonical form (every value typed, defaults applied, one spelling
//! per float).

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;
use stages::{ParamSpec, ParamType, Stage};

/// Checks and canonicalises; errors name the parameter and what was wrong.
pub fn check(stage: &dyn Stage, given: &serde_yaml::Mapping) -> Result<Map<String, Value>, String> {
    let specs = stage.params();
    for key in given.keys() {
        let Some(name) = key.as_str() else {
            return Err(format!("parameter names must be strings, got {key:?}"));
        };
        if !specs.iter().any(|s| s.name == name) {
            let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
            return Err(format!(
                "unknown parameter `{name}` for stage `{}` (known: {})",
                stage.name(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    let mut out = Map::new();
    for spec in specs {
        let value = match given.get(spec.name) {
            Some(v) => typed(spec, v)?,
            None => default_of(spec).ok_or_else(|| {
                format!("missing required parameter `{}` ({})", spec.name, spec.doc)
            })?,
        };
        out.insert(spec.name.to_string(), value);
    }
    Ok(out)
}

fn default_of(spec: &ParamSpec) -> Option<Value> {
    let text = spec.default?;
    let value = match spec.ty {
        ParamType::Str | ParamType::Choice(_) | ParamType::File | ParamType::Dir => {
            Value::from(text)
        }
        _ => {
            let yaml: Yaml = serde_yaml::from_str(text).expect("stage defaults are valid YAML");
            typed(spec, &yaml).expect("stage defaults have their declared type")
        }
    };
    Some(value)
}

fn typed(spec: &ParamSpec, v: &Yaml) -> Result<Value, String> {
    let mismatch = || {
        format!(
            "parameter `{}` must be {}, got {}",
            spec.name,
            spec.ty.describe(),
            describe_yaml(v)
        )
    };
    match spec.ty {
        ParamType::Str | ParamType::File | ParamType::Dir => {
            v.as_str().map(Value::from).ok_or_else(mismatch)
        }
        ParamType::Int => v.as_i64().map(Value::from).ok_or_else(mismatch),
        ParamType::Float => {
            let x = v.as_f64().ok_or_else(mismatch)?;
            if !x.is_finite() {
                return Err(format!("parameter `{}` must be finite, got {x}", spec.name));
            }
            // Integers given for a float are stored as floats: 1 and 1.0
            // must give the same key.
            Ok(serde_json::Number::from_f64(x)
                .map(Value::Number)
                .ok_or_else(mismatch)?)
        }
        ParamType::Bool => v.as_bool().map(Value::from).ok_or_else(mismatch),
        ParamType::Choice(options) => match v.as_str() {
            Some(s) if options.contains(&s) => Ok(Value::from(s)),
            _ => Err(mismatch()),
        },
        ParamType::StrList => {
            let items = v.as_sequence().ok_or_else(mismatch)?;
            items
                .iter()
                .map(|i| i.as_str().map(Value::from).ok_or_else(mismatch))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
    }
}

fn describe_yaml(v: &Yaml) -> String {
    match v {
        Yaml::Null => "nothing".into(),
        Yaml::Bool(b) => format!("{b}"),
        Yaml::Number(n) => format!("{n}"),
        Yaml::String(s) => format!("\"{s}\""),
        Yaml::Sequence(_) => "a list".into(),
        Yaml::Mapping(_) => "a mapping".into(),
        Yaml::Tagged(_) => "a tagged value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stages::Registry;

    fn derive() -> std::sync::Arc<dyn Stage> {
        Registry::standard().find("derive").unwrap()
    }

    fn yaml(text: &str) -> serde_yaml::Mapping {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_applied_and_floats_canonical() {
        let a = check(derive().as_ref(), &yaml("{column: x, output: y, value: 2}")).unwrap();
        let b = check(
            derive().as_ref(),
            &yaml("{output: y, column: x, value: 2.0}"),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_eq!(a["op"], "scale");
    }

    #[test]
    fn bad_parameters_are_named() {
        let stage = derive();
        let unknown =
            check(stage.as_ref(), &yaml("{column: x, output: y, colour: 1}")).unwrap_err();
        assert!(unknown.contains("unknown parameter `colour`"), "{unknown}");
        let mistyped =
            check(stage.as_ref(), &yaml("{column: x, output: y, value: big}")).unwrap_err();
        assert!(
            mistyped.contains("`value` must be a number, got \"big\""),
            "{mistyped}"
        );
        let choice = check(stage.as_ref(), &yaml("{column: x, output: y, op: cube}")).unwrap_err();
        assert!(choice.contains("one of scale, offset"), "{choice}");
        let missing = check(stage.as_ref(), &yaml("{column: x}")).unwrap_err();
        assert!(
            missing.contains("missing required parameter `output`"),
            "{missing}"
        );
    }
}

//! Store inspection: verify, dag, and the committed manifest that `show`
//! and `export` read.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use storage::{BlobState, ManifestState, Store};

use crate::error::{PipelineError, Result};
use crate::freshness::{resolve, BlobCheck, Freshness, Resolved, MISSING};
use crate::plan::Plan;

/// What `verify` found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    pub manifests: usize,
    pub blobs_checked: usize,
    pub problems: Vec<String>,
}

/// Re-hashes every blob reachable from a manifest, and checks every manifest.
pub async fn verify(store: &Store) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut checked: HashMap<String, BlobState> = HashMap::new();
    for key in store.list_manifest_keys().await? {
        report.manifests += 1;
        let manifest = match store.get_manifest(&key).await? {
            ManifestState::Found(m) => m,
            ManifestState::Invalid(why) => {
                report.problems.push(format!(
                    "manifest {key}: {why} (it is ignored, never trusted)"
                ));
                continue;
            }
            ManifestState::Missing => continue, // deleted meanwhile
        };
        for (name, file) in &manifest.files {
            let state = match checked.get(&file.blake3) {
                Some(s) => s.clone(),
                None => {
                    let s = store.check_blob(&file.blake3).await?;
                    report.blobs_checked += 1;
                    checked.insert(file.blake3.clone(), s.clone());
                    s
                }
            };
            let what = format!(
                "node `{}` ({}), output `{name}`, blob {}",
                manifest.node, key, file.blake3
            );
            match state {
                BlobState::Ok => {}
                BlobState::Missing => report.problems.push(format!("{what}: missing")),
                BlobState::Corrupt { actual } => report
                    .problems
                    .push(format!("{what}: corrupt (content hashes to {actual})")),
            }
        }
    }
    Ok(report)
}

/// The committed manifest of node `name` (an error says why there is none).
pub(crate) async fn committed(
    plan: &Plan,
    store: &storage::ArtifactStore,
    name: &str,
) -> Result<storage::Manifest> {
    let &i = plan
        .by_name
        .get(name)
        .ok_or_else(|| PipelineError::Usage(format!("no node named `{name}` in the pipeline")))?;
    let blobs = BlobCheck::listed(store).await?;
    let resolved = resolve(plan, store, &blobs).await?;
    match &resolved[i] {
        Resolved::Waiting { upstream } => Err(PipelineError::Failed(format!(
            "node `{name}` has no artifact yet: its upstream `{}` must run first",
            plan.nodes[*upstream].name
        ))),
        Resolved::Known {
            freshness: Freshness::Fresh(m),
            ..
        } => Ok(m.as_ref().clone()),
        Resolved::Known { key, freshness, .. } => match (freshness, store.find(key).await?) {
            (Freshness::Remote(_), ManifestState::Found(m)) => Ok(m),
            (Freshness::Stale(why), _) if why == MISSING => Err(PipelineError::Failed(format!(
                "node `{name}` has no artifact for its key {key} yet: run it first"
            ))),
            (Freshness::Stale(why), _) => Err(PipelineError::Failed(format!(
                "node `{name}` (key {key}) has no usable artifact: {why}"
            ))),
            _ => Err(PipelineError::Failed(format!(
                "node `{name}`: the remote cache's artifact for key {key} could not be pulled"
            ))),
        },
    }
}

/// The plan as Graphviz dot.
pub fn dag(plan: &Plan) -> String {
    let mut dot = String::from("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
    for &i in &plan.order {
        let n = &plan.nodes[i];
        let _ = writeln!(
            dot,
            "  \"{}\" [label=\"{}\\n{}\"];",
            dot_escape(&n.name),
            dot_escape(&n.name),
            dot_escape(n.stage.name())
        );
    }
    for &i in &plan.order {
        for &u in plan.nodes[i].inputs.values().flatten() {
            let _ = writeln!(
                dot,
                "  \"{}\" -> \"{}\";",
                dot_escape(&plan.nodes[u].name),
                dot_escape(&plan.nodes[i].name)
            );
        }
    }
    dot.push_str("}\n");
    dot
}

/// Text for inside a dot double-quoted string: `"` would end it, and `\`
/// starts escapes in labels. (Node names cannot hold `\` or line breaks.)
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_strings_cannot_be_ended_early() {
        assert_eq!(dot_escape(r#"say "hi" \ bye"#), r#"say \"hi\" \\ bye"#);
        assert_eq!(dot_escape("plain_name"), "plain_name");
    }
}

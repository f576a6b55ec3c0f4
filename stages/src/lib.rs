//! The stages of the study. A stage is a function: typed parameters and
//! typed inputs in, typed outputs out. It never hashes, never decides whether
//! to run and never touches the artifact store: the engine owns all of that.

use std::collections::BTreeMap;
use std::sync::Arc;

pub mod analysis;
pub mod api;
pub mod audio;
pub mod contracts;
pub mod declarations;
pub mod frontend;
pub mod import;
pub mod labels;
pub mod local_files;
pub mod mel_access;
pub mod rng;
pub mod study;
pub mod synth;
pub mod table;
pub mod tabular;
/// Shared by the stages' unit tests here and in `torch_stages`.
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

pub use api::{
    Declaration, FileKind, InputSpec, ItemSource, Output, OutputSpec, Outputs, ParamSpec,
    ParamType, Params, Progress, Sink, Stage, StageContext, StageError, TemplateRow, Upstream,
    UpstreamFiles,
};

/// The stages the engine can instantiate, by name. Tests may replace a
/// stage (e.g. with one whose version is bumped).
#[derive(Clone)]
pub struct Registry {
    stages: BTreeMap<String, Arc<dyn Stage>>,
}

impl Registry {
    /// The stages of this crate: all but those that need libtorch
    /// (`torch_stages`, which adds them).
    pub fn standard() -> Self {
        let mut registry = Registry {
            stages: BTreeMap::new(),
        };
        registry.insert(Arc::new(tabular::ReadCsv));
        registry.insert(Arc::new(tabular::Derive));
        registry.insert(Arc::new(tabular::Aggregate));
        registry.insert(Arc::new(tabular::Concat));
        registry.insert(Arc::new(contracts::LoadTable));
        registry.insert(Arc::new(contracts::LoadLabels));
        registry.insert(Arc::new(import::ImportFolders));
        registry.insert(Arc::new(import::ImportFileTags));
        registry.insert(Arc::new(import::ImportFma));
        registry.insert(Arc::new(import::ImportLastfmTags));
        registry.insert(Arc::new(import::ImportTasteProfile));
        registry.insert(Arc::new(import::ImportMusixmatch));
        registry.insert(Arc::new(import::ImportTagtraum));
        registry.insert(Arc::new(import::ImportMsdSummary));
        registry.insert(Arc::new(import::ImportLastfm1k));
        registry.insert(Arc::new(synth::SynthAudio));
        registry.insert(Arc::new(synth::SynthTable));
        registry.insert(Arc::new(frontend::Fetch));
        registry.insert(Arc::new(frontend::MelSpectrograms));
        registry.insert(Arc::new(frontend::FitScaler));
        registry.insert(Arc::new(labels::Factorize));
        registry.insert(Arc::new(labels::FactorizeArtist));
        registry.insert(Arc::new(analysis::Design));
        registry.insert(Arc::new(analysis::Analyze));
        registry
    }

    /// Adds a stage, replacing any stage of the same name.
    pub fn insert(&mut self, stage: Arc<dyn Stage>) {
        self.stages.insert(stage.name().to_string(), stage);
    }

    pub fn find(&self, name: &str) -> Option<Arc<dyn Stage>> {
        self.stages.get(name).cloned()
    }

    pub fn names(&self) -> Vec<&str> {
        self.stages.keys().map(String::as_str).collect()
    }
}

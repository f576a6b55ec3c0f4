//! The stages that compute with libtorch (training, extraction, the
//! pre-trained musicnn baseline, the MLP probe, the report's parameter counts) and those that share their
//! modules (recommend). Loading libtorch takes 0.3-0.5 s, so the engine's
//! `pipeline` binary does not link this crate's code: it reads only
//! their declarations (`stages::declarations`) and runs these stages in `pipeline-worker`.

use std::sync::Arc;

use stages::Registry;

pub mod evaluate;
pub mod model;
pub mod musicnn;
pub mod report;

/// Every stage of the study, each run in this process.
pub fn registry() -> Registry {
    let mut registry = Registry::standard();
    registry.insert(Arc::new(model::Train));
    registry.insert(Arc::new(model::Extract));
    registry.insert(Arc::new(musicnn::Musicnn));
    registry.insert(Arc::new(evaluate::Evaluate));
    registry.insert(Arc::new(evaluate::Recommend));
    registry.insert(Arc::new(report::Report));
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declarations_are_the_registered_stages() {
        let registry = registry();
        for declaration in stages::declarations::IN_WORKER {
            let stage = registry.find(declaration.name).expect("registered");
            assert_eq!(stage.version(), declaration.version);
            assert_eq!(stage.params().len(), declaration.params.len());
            assert_eq!(stage.inputs().len(), declaration.inputs.len());
        }
        let ours = registry.names().len() - Registry::standard().names().len();
        assert_eq!(ours, stages::declarations::IN_WORKER.len());
    }
}

//! How Algorithm 1's Adam optimisers are arranged over the network.
//!
//! The authors' code (`musmtl/train.py`, eldrin/MTLMusicRepresentation-
//! PyTorch) gives the shared trunk one Adam at lr / m, stepped at every
//! iteration whichever source was drawn, and each source's branch and head
//! their own Adam at lr, stepped when that source is drawn. That is the
//! default ([`Arrangement::SharedTrunk`]). [`Arrangement::PerSourcePath`]
//! keeps one Adam per source over its whole path (trunk included) at lr:
//! every source then moves the trunk at the full rate with moments of its
//! own. With one source the two are the same optimiser.

use std::collections::HashMap;

use tch::nn::VarStore;
use tch::Tensor;

use super::adam::Adam;
use super::net::Network;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    SharedTrunk,
    PerSourcePath,
}

impl Arrangement {
    pub fn parse(name: &str) -> Result<Arrangement, String> {
        match name {
            "shared_trunk" => Ok(Arrangement::SharedTrunk),
            "per_source_path" => Ok(Arrangement::PerSourcePath),
            other => Err(format!(
                "unknown optimizer `{other}` (optimizers: {})",
                stages::declarations::train::OPTIMIZERS.join(", ")
            )),
        }
    }
}

/// The optimisers of one training run.
pub struct Optimizers {
    /// The shared trunk's, where it has one of its own with parameters.
    trunk: Option<Adam>,
    sources: Vec<Adam>,
}

/// A trunk variable's name starts with this.
const TRUNK: &str = "trunk.";

impl Optimizers {
    pub fn new(
        arrangement: Arrangement,
        vs: &VarStore,
        net: &Network,
        sources: usize,
        lr: f64,
        weight_decay: f64,
    ) -> Optimizers {
        let mut variables: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        let over = |keep: &dyn Fn(&str) -> bool| -> Vec<(String, Tensor)> {
            variables
                .iter()
                .filter(|(name, _)| keep(name))
                .map(|(n, t)| (n.clone(), t.shallow_clone()))
                .collect()
        };
        let shared = arrangement == Arrangement::SharedTrunk;
        let sources = (0..sources)
            .map(|i| {
                let prefixes = net.path_prefixes(i);
                let params = over(&|name| {
                    prefixes.iter().any(|p| name.starts_with(p))
                        && !(shared && name.starts_with(TRUNK))
                });
                Adam::new(params, lr, weight_decay)
            })
            .collect::<Vec<_>>();
        let trunk = shared
            .then(|| over(&|name| name.starts_with(TRUNK)))
            .filter(|params| !params.is_empty())
            .map(|params| Adam::new(params, lr / sources.len() as f64, weight_decay));
        Optimizers { trunk, sources }
    }

    /// The optimisers that source `i`'s iteration steps.
    fn of(&mut self, i: usize) -> impl Iterator<Item = &mut Adam> {
        let (trunk, sources) = (&mut self.trunk, &mut self.sources);
        trunk.iter_mut().chain(sources.get_mut(i))
    }

    pub fn zero_grad(&mut self, i: usize) {
        self.of(i).for_each(Adam::zero_grad);
    }

    pub fn step(&mut self, i: usize) {
        self.of(i).for_each(Adam::step);
    }

    /// `(group, learning rate, variable names)` per optimiser: the trunk's
    /// first (`trunk`), then each source's (`source{i}`).
    pub fn groups(&self) -> Vec<(String, f64, Vec<String>)> {
        let trunk = self.trunk.iter().map(|a| ("trunk".to_string(), a));
        let sources = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("source{i}"), a));
        trunk
            .chain(sources)
            .map(|(name, a)| (name, a.lr(), a.names()))
            .collect()
    }

    /// Moments and step counts, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = Vec::new();
        let mut steps = Vec::new();
        for (name, adam) in self.named() {
            named.extend(adam.state(&format!("adam_{name}/")));
            steps.push(adam.steps);
        }
        named.push(("steps".into(), Tensor::from_slice(&steps)));
        named
    }

    /// Restores what [`Optimizers::state`] saved.
    pub fn restore(&mut self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        let steps = saved
            .get("steps")
            .ok_or("checkpoint lacks `steps`")
            .and_then(|t| Vec::<i64>::try_from(t).map_err(|_| "checkpoint `steps` is not int64"))?;
        let count = self.named().len();
        if steps.len() != count {
            return Err("checkpoint is for another set of sources or optimizers".into());
        }
        let names: Vec<String> = self.named().into_iter().map(|(n, _)| n).collect();
        let adams = self.trunk.iter_mut().chain(self.sources.iter_mut());
        for ((name, adam), steps) in names.iter().zip(adams).zip(steps) {
            adam.restore(&format!("adam_{name}/"), saved)?;
            adam.steps = steps;
        }
        Ok(())
    }

    fn named(&self) -> Vec<(String, &Adam)> {
        let trunk = self.trunk.iter().map(|a| ("trunk".to_string(), a));
        let sources = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("source{i}"), a));
        trunk.chain(sources).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stages::study::{Source, Strategy};
    use tch::Device;

    /// SS-R learns from one source, the others from four.
    fn groups(strategy: Strategy, arrangement: Arrangement) -> Vec<(String, f64, Vec<String>)> {
        let four = [Source::Tag, Source::Bpm, Source::Year, Source::Artist];
        let sources = if strategy == Strategy::SsR {
            &four[..1]
        } else {
            &four[..]
        };
        let vs = VarStore::new(Device::Cpu);
        let net = Network::new(&vs.root(), strategy, sources).unwrap();
        Optimizers::new(arrangement, &vs, &net, sources.len(), 0.001, 1e-6).groups()
    }

    /// The authors' arrangement: the trunk at lr / m in one optimiser; each
    /// source's branch and head, and nothing else, at lr.
    #[test]
    fn the_shared_trunk_arrangement_is_the_authors() {
        for strategy in Strategy::ALL {
            let groups = groups(strategy, Arrangement::SharedTrunk);
            let (trunk, sources): (Vec<_>, Vec<_>) =
                groups.iter().partition(|(name, _, _)| name == "trunk");
            let m = if strategy == Strategy::SsR { 1.0 } else { 4.0 };
            if strategy == Strategy::MssCr {
                assert!(trunk.is_empty(), "{strategy:?} shares nothing");
            } else {
                let (_, lr, names) = &trunk[0];
                assert!((lr - 0.001 / m).abs() < 1e-15, "{strategy:?}: {lr}");
                assert!(names.iter().all(|n| n.starts_with("trunk.")));
            }
            assert_eq!(sources.len(), m as usize);
            for (i, (_, lr, names)) in sources.iter().enumerate() {
                assert_eq!(*lr, 0.001);
                assert!(!names.is_empty());
                let own = [format!("head{i}."), format!("branch{i}.")];
                assert!(
                    names.iter().all(|n| own.iter().any(|p| n.starts_with(p))),
                    "{strategy:?} source {i}: {names:?}"
                );
            }
        }
    }

    #[test]
    fn the_per_source_arrangement_moves_the_trunk_at_full_rate_per_source() {
        let groups = groups(Strategy::MsSrFc, Arrangement::PerSourcePath);
        assert_eq!(groups.len(), 4);
        for (_, lr, names) in &groups {
            assert_eq!(*lr, 0.001);
            assert!(names.iter().any(|n| n.starts_with("trunk.")));
        }
    }
}

//! Algorithm 1: multi-source training (SPEC 5).
//!
//! Each iteration takes the next source (in shuffled rounds that visit
//! every source once), a batch of its tracks
//! with random crops ([`super::data`]), and steps the optimisers of that
//! source's path ([`super::optimizers`]) on KL(z || softmax(output)). One
//! epoch is
//! `m * ceil(tracks / batch)` iterations, with `tracks` the training tracks
//! that have a mel (every source's batches see them about once per epoch).
//!
//! A run may be capped at a number of iterations in total
//! ([`TrainConfig::max_iterations`], off by default): a departure from the
//! paper, whose epochs give a multi-source run m times the iterations of a
//! single-source one, so that every source gets about as many updates. A
//! cap gives each of m sources 1/m of them. The capped epoch is cut short.
//!
//! Reproducible: the initial weights come from the seed, each epoch
//! re-seeds the dropout masks and the sampler from (seed, epoch); nothing
//! uses libtorch's process-wide generator, so concurrent trainings in one
//! process do not disturb each other.
//! A checkpoint (weights, optimizer moments and steps, the log so far) is
//! saved every `checkpoint_every` epochs; a resumed node continues from the
//! epoch after it, and, because every epoch's randomness depends only on
//! (seed, epoch), ends with the weights an uninterrupted run would have.

use std::collections::HashMap;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::data::{derive_seed, prefetch, Batch, EpochSampler, MelBank, SourceData};
use super::net::{Network, BANDS, CHANNELS, CROP_FRAMES};
use super::optimizers::{Arrangement, Optimizers};
use super::weights;
use stages::study::{Source, Strategy};

/// The name of the node checkpoint this module saves.
pub const CHECKPOINT: &str = "training.safetensors";

#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub strategy: Strategy,
    pub sources: Vec<Source>,
    /// 0 trains nothing: the Rand baseline.
    pub epochs: usize,
    /// Stop after this many iterations in all (0: no cap).
    pub max_iterations: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub optimizer: Arrangement,
    pub seed: u64,
    /// Save a checkpoint every this many epochs (0: never).
    pub checkpoint_every: usize,
}

impl TrainConfig {
    /// Iterations the run takes: its epochs, within the cap.
    pub fn total_iterations(&self, iterations_per_epoch: usize) -> usize {
        let epochs = self.epochs * iterations_per_epoch;
        match self.max_iterations {
            0 => epochs,
            cap => epochs.min(cap),
        }
    }
}

/// One training iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    pub iteration: usize,
    pub epoch: usize,
    /// Index into the config's sources.
    pub source: usize,
    pub loss: f64,
}

/// Where checkpoints go: the node's checkpoint store in the pipeline.
pub trait Checkpoints {
    fn save(&self, bytes: Vec<u8>) -> Result<(), String>;
    fn load(&self) -> Result<Option<Vec<u8>>, String>;
}

/// A trained (or, with 0 epochs, initialised) network.
pub struct Trained {
    pub vs: VarStore,
    pub net: Network,
    pub log: Vec<LogRow>,
    pub iterations_per_epoch: usize,
    /// The epoch training resumed from (0 for a fresh start).
    pub resumed_at: usize,
}

impl Trained {
    /// Every variable (batch-norm statistics included), sorted by name.
    pub fn named_variables(&self) -> Vec<(String, Tensor)> {
        sorted(self.vs.variables())
    }
}

fn sorted(map: HashMap<String, Tensor>) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = map.into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// KL(z || softmax(logits)), averaged over the batch; rows of z sum to 1.
pub fn kl_loss(logits: &Tensor, z: &Tensor) -> Tensor {
    let log_p = logits.log_softmax(-1, Kind::Float);
    let z_log_z = z * z.clamp_min(1e-12).log();
    (z_log_z - z * log_p)
        .sum_dim_intlist(-1, false, Kind::Float)
        .mean(Kind::Float)
}

/// Builds the network of a config, initialised from its seed.
pub fn init_network(config: &TrainConfig, device: Device) -> Result<(VarStore, Network), String> {
    let vs = VarStore::new(device);
    let net = Network::new(&vs.root(), config.strategy, &config.sources)?;
    Network::initialise(&vs, derive_seed(config.seed, "init", 0));
    Ok((vs, net))
}

fn batch_tensors(batch: &Batch, device: Device) -> (Tensor, Tensor) {
    let x = Tensor::from_slice(&batch.x)
        .view([batch.rows as i64, CHANNELS, CROP_FRAMES, BANDS])
        .to_device(device);
    let targets = (batch.z.len() / batch.k) as i64;
    let z = Tensor::from_slice(&batch.z)
        .view([targets, batch.k as i64])
        .to_device(device);
    (x, z)
}

/// Trains the network of `config` on `sources` (each source's examples;
/// their order matches `config.sources`). `on_step` sees every iteration.
pub fn train(
    config: &TrainConfig,
    bank: &MelBank,
    sources: &[SourceData],
    device: Device,
    checkpoints: &dyn Checkpoints,
    on_step: &mut dyn FnMut(&LogRow),
) -> Result<Trained, String> {
    if sources.len() != config.sources.len() {
        return Err(format!(
            "{} sources configured, {} given data",
            config.sources.len(),
            sources.len()
        ));
    }
    if let Some(empty) = sources.iter().find(|s| s.tracks.is_empty()) {
        return Err(format!("source `{}` has no training track", empty.source));
    }
    if config.batch == 0 {
        return Err("batch must be at least 1".into());
    }
    let (vs, net) = init_network(config, device)?;
    let mut optimizers = Optimizers::new(
        config.optimizer,
        &vs,
        &net,
        config.sources.len(),
        config.lr,
        config.weight_decay,
    );
    let iterations_per_epoch = sources.len() * bank.len().div_ceil(config.batch);
    let mut log = Vec::new();
    let mut start_epoch = 0;
    if let Some(bytes) = checkpoints.load()? {
        start_epoch = restore(&bytes, &vs, &mut optimizers, &mut log)?;
    }

    let total = config.total_iterations(iterations_per_epoch);
    for epoch in start_epoch..config.epochs {
        let iterations = iterations_per_epoch.min(total.saturating_sub(log.len()));
        if iterations == 0 {
            break;
        }
        net.reseed_dropout(derive_seed(config.seed, "dropout", epoch as u64));
        let sampler = EpochSampler::new(bank, sources, config.batch, config.seed, epoch as u64);
        std::thread::scope(|scope| -> Result<(), String> {
            let batches = prefetch(scope, sampler, iterations);
            for batch in batches.iter() {
                let (x, z) = batch_tensors(&batch, device);
                optimizers.zero_grad(batch.source);
                let loss = kl_loss(&net.logits_t(&x, batch.source, true), &z);
                loss.backward();
                optimizers.step(batch.source);
                let row = LogRow {
                    iteration: log.len(),
                    epoch,
                    source: batch.source,
                    loss: loss.double_value(&[]),
                };
                if !row.loss.is_finite() {
                    return Err(format!(
                        "loss of source `{}` became {} at iteration {}",
                        config.sources[batch.source], row.loss, row.iteration
                    ));
                }
                on_step(&row);
                log.push(row);
            }
            Ok(())
        })?;
        let done = epoch + 1;
        if config.checkpoint_every > 0
            && done % config.checkpoint_every == 0
            && done < config.epochs
            && log.len() < total
        {
            checkpoints.save(checkpoint_bytes(done, &vs, &optimizers, &log)?)?;
        }
    }
    Ok(Trained {
        vs,
        net,
        log,
        iterations_per_epoch,
        resumed_at: start_epoch,
    })
}

fn checkpoint_bytes(
    epochs_done: usize,
    vs: &VarStore,
    optimizers: &Optimizers,
    log: &[LogRow],
) -> Result<Vec<u8>, String> {
    let mut named: Vec<(String, Tensor)> = sorted(vs.variables())
        .into_iter()
        .map(|(n, t)| (format!("w/{n}"), t))
        .collect();
    named.extend(optimizers.state());
    named.push((
        "epochs_done".into(),
        Tensor::from_slice(&[epochs_done as i64]),
    ));
    let epochs: Vec<i64> = log.iter().map(|r| r.epoch as i64).collect();
    let sources: Vec<i64> = log.iter().map(|r| r.source as i64).collect();
    let losses: Vec<f64> = log.iter().map(|r| r.loss).collect();
    named.push(("log/epoch".into(), Tensor::from_slice(&epochs)));
    named.push(("log/source".into(), Tensor::from_slice(&sources)));
    named.push(("log/loss".into(), Tensor::from_slice(&losses)));
    weights::to_bytes(&named)
}

/// Loads a checkpoint into the network and optimizers; returns the number
/// of epochs it had completed.
fn restore(
    bytes: &[u8],
    vs: &VarStore,
    optimizers: &mut Optimizers,
    log: &mut Vec<LogRow>,
) -> Result<usize, String> {
    let saved = weights::from_bytes(bytes).map_err(|e| format!("checkpoint: {e}"))?;
    let get = |name: &str| {
        saved
            .get(name)
            .ok_or_else(|| format!("checkpoint lacks `{name}`"))
    };
    for (name, mut var) in vs.variables() {
        let value = get(&format!("w/{name}"))?;
        tch::no_grad(|| var.copy_(value));
    }
    optimizers.restore(&saved)?;
    let epochs = Vec::<i64>::try_from(get("log/epoch")?).map_err(|e| e.to_string())?;
    let sources = Vec::<i64>::try_from(get("log/source")?).map_err(|e| e.to_string())?;
    let losses = Vec::<f64>::try_from(get("log/loss")?).map_err(|e| e.to_string())?;
    *log = (0..losses.len())
        .map(|i| LogRow {
            iteration: i,
            epoch: epochs[i] as usize,
            source: sources[i] as usize,
            loss: losses[i],
        })
        .collect();
    Ok(get("epochs_done")?.int64_value(&[0]) as usize)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use stages::audio::{MelDb, Scaler, N_MELS};

    /// Tracks of two kinds (a low or a high band is loud), labelled with a
    /// distribution that says which: learnable from any crop.
    fn two_kinds(tracks: usize) -> (MelBank, Vec<f32>) {
        let scaler = Scaler::identity();
        let mut bank = MelBank::new();
        let mut z = Vec::new();
        for t in 0..tracks {
            let kind = t % 2;
            let frames = 240 + 7 * t;
            let data = (0..2 * frames * N_MELS)
                .map(|v| {
                    let band = v % N_MELS;
                    let loud = if kind == 0 { band < 20 } else { band > 100 };
                    let noise = ((v * 7919 + t * 104_729) % 1000) as f32 / 1000.0 - 0.5;
                    if loud {
                        2.0 + noise
                    } else {
                        noise
                    }
                })
                .collect();
            let mel = MelDb {
                channels: 2,
                frames,
                bands: N_MELS,
                data,
            };
            bank.push(format!("t{t}"), &mel, &scaler);
            let mut dist = vec![0.0f32; TOPICS_USIZE];
            dist[kind] = 0.9;
            dist[2 + kind] = 0.1;
            z.extend(dist);
        }
        (bank, z)
    }

    const TOPICS_USIZE: usize = super::super::net::TOPICS as usize;

    fn config(epochs: usize) -> TrainConfig {
        TrainConfig {
            strategy: Strategy::SsR,
            sources: vec![Source::Tag],
            epochs,
            max_iterations: 0,
            batch: 4,
            lr: 0.005,
            weight_decay: 1e-6,
            optimizer: Arrangement::SharedTrunk,
            seed: 5,
            checkpoint_every: 1,
        }
    }

    #[derive(Default)]
    struct Memory(RefCell<Vec<Vec<u8>>>, Option<Vec<u8>>);

    impl Checkpoints for Memory {
        fn save(&self, bytes: Vec<u8>) -> Result<(), String> {
            self.0.borrow_mut().push(bytes);
            Ok(())
        }
        fn load(&self) -> Result<Option<Vec<u8>>, String> {
            Ok(self.1.clone())
        }
    }

    /// Trains on the config's sources, each labelled as in [`two_kinds`].
    fn run(config: &TrainConfig, checkpoints: &Memory) -> (Vec<u8>, Vec<LogRow>) {
        let (bank, z) = two_kinds(8);
        let sources: Vec<SourceData> = config
            .sources
            .iter()
            .map(|&source| SourceData {
                source,
                tracks: (0..8).collect(),
                z: z.clone(),
            })
            .collect();
        let trained = train(
            config,
            &bank,
            &sources,
            Device::Cpu,
            checkpoints,
            &mut |_| {},
        )
        .unwrap();
        (
            weights::to_bytes(&trained.named_variables()).unwrap(),
            trained.log,
        )
    }

    #[test]
    fn training_lowers_the_loss() {
        let (_, log) = run(&config(10), &Memory::default());
        assert_eq!(log.len(), 10 * 2, "m * ceil(8 / 4) iterations per epoch");
        let first = log[..2].iter().map(|r| r.loss).sum::<f64>() / 2.0;
        let last = log[log.len() - 2..].iter().map(|r| r.loss).sum::<f64>() / 2.0;
        assert!(last < 0.5 * first, "loss {first} -> {last}");
    }

    /// Updates per source in a training log.
    fn updates(log: &[LogRow], sources: usize) -> Vec<usize> {
        let mut counts = vec![0; sources];
        for row in log {
            counts[row.source] += 1;
        }
        counts
    }

    #[test]
    fn every_source_of_a_multi_source_run_gets_the_updates_of_a_single_source_run() {
        let (_, single) = run(&config(3), &Memory::default());
        let per_source = single.len();
        assert_eq!(per_source, 3 * 2, "3 epochs of ceil(8 / 4)");
        for strategy in Strategy::ALL.into_iter().filter(|s| *s != Strategy::SsR) {
            let config = TrainConfig {
                strategy,
                sources: vec![Source::Tag, Source::Bpm, Source::Year],
                ..config(3)
            };
            let (_, log) = run(&config, &Memory::default());
            assert_eq!(updates(&log, 3), [per_source; 3], "{strategy:?}");
        }
    }

    #[test]
    fn same_seed_same_weights_and_resume_equals_uninterrupted() {
        let saved = Memory::default();
        let (a, log_a) = run(&config(2), &saved);
        let (b, _) = run(&config(2), &Memory::default());
        assert_eq!(
            blake3::hash(&a),
            blake3::hash(&b),
            "two CPU runs, same seed"
        );

        let checkpoints = saved.0.borrow();
        assert_eq!(
            checkpoints.len(),
            1,
            "after epoch 1 of 2 (none after the last)"
        );
        let resumed = Memory(RefCell::default(), Some(checkpoints[0].clone()));
        let (c, log_c) = run(&config(2), &resumed);
        assert_eq!(blake3::hash(&a), blake3::hash(&c), "resumed from epoch 1");
        assert_eq!(log_a, log_c, "the log is whole after a resume");

        let mut other = config(2);
        other.seed = 6;
        assert_ne!(
            blake3::hash(&a),
            blake3::hash(&run(&other, &Memory::default()).0)
        );
    }

    #[test]
    fn one_source_trains_alike_under_either_optimizer_arrangement() {
        let mut per_path = config(2);
        per_path.optimizer = Arrangement::PerSourcePath;
        let shared = run(&config(2), &Memory::default()).0;
        assert_eq!(
            blake3::hash(&shared),
            blake3::hash(&run(&per_path, &Memory::default()).0)
        );
    }

    #[test]
    fn a_shared_trunk_run_resumes_to_its_uninterrupted_weights() {
        let mut two = config(2);
        two.strategy = Strategy::MsCr4;
        two.sources = vec![Source::Tag, Source::Bpm];
        let saved = Memory::default();
        let (a, log) = run(&two, &saved);
        assert_eq!(log.len(), 2 * 2 * 2, "m * ceil(8 / 4) iterations per epoch");
        let resumed = Memory(RefCell::default(), Some(saved.0.borrow()[0].clone()));
        assert_eq!(blake3::hash(&a), blake3::hash(&run(&two, &resumed).0));
        // Two sources: the trunk's rate and moments differ between arrangements.
        two.optimizer = Arrangement::PerSourcePath;
        assert_ne!(
            blake3::hash(&a),
            blake3::hash(&run(&two, &Memory::default()).0)
        );
    }

    #[test]
    fn the_cap_cuts_the_last_epoch_short_and_resumes_to_the_same_weights() {
        let mut capped = config(4);
        capped.max_iterations = 5;
        let saved = Memory::default();
        let (a, log) = run(&capped, &saved);
        assert_eq!(log.len(), 5, "2 per epoch, the third epoch cut after one");
        assert_eq!(log.last().map(|r| r.epoch), Some(2));
        let checkpoints = saved.0.borrow();
        assert_eq!(
            checkpoints.len(),
            2,
            "after epochs 1 and 2, none after the cap"
        );
        let resumed = Memory(RefCell::default(), Some(checkpoints[1].clone()));
        let (b, log_b) = run(&capped, &resumed);
        assert_eq!(blake3::hash(&a), blake3::hash(&b));
        assert_eq!(log, log_b);

        capped.max_iterations = 100;
        assert_eq!(
            run(&capped, &Memory::default()).1.len(),
            8,
            "the epochs end first"
        );
    }

    #[test]
    fn zero_epochs_is_the_untrained_network() {
        let (w, log) = run(&config(0), &Memory::default());
        assert!(log.is_empty());
        let named = weights::from_bytes(&w).unwrap();
        let mean = &named["trunk.conv1.bn.running_mean"];
        assert_eq!(
            mean.abs().sum(Kind::Float).double_value(&[]),
            0.0,
            "never saw data"
        );
    }

    #[test]
    fn kl_of_equal_distributions_is_zero() {
        let z = Tensor::from_slice(&[0.7f32, 0.3, 0.0]).view([1, 3]);
        let logits = z.clamp_min(1e-30).log();
        assert!(kl_loss(&logits, &z).double_value(&[]).abs() < 1e-6);
        let uniform = Tensor::zeros([1, 3], (Kind::Float, Device::Cpu));
        let want = 0.7f64 * (0.7f64 * 3.0).ln() + 0.3 * (0.3f64 * 3.0).ln();
        assert!((kl_loss(&uniform, &z).double_value(&[]) - want).abs() < 1e-6);
    }
}

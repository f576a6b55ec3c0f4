//! Extraction (SPEC 6): a track's mel is zero-padded to a multiple of 216
//! frames and cut into non-overlapping slices; the network, in eval mode,
//! gives each slice's representation (fc-feature, concatenated over the
//! branches where the strategy concatenates), and the track's vector is
//! `[mean, std]` over its slices (population std: 0 for a one-slice track).
//!
//! A batch holds the slices of one track only, so that a track's vector
//! depends on that track alone (never on which tracks shared its batch):
//! the extract stage can then reuse it per track across nodes.

use tch::{Device, Kind, Tensor};

use super::data::{MelBank, CROP_LEN};
use super::net::{Network, BANDS, CHANNELS, CROP_FRAMES};

/// The most slices run through the network together.
const SLICES_PER_BATCH: usize = 128;

/// The vectors of every track of `bank`, `[tracks, 2 d]` row-major, d the
/// network's representation width. `on_track` is called once per track.
pub fn extract(
    net: &Network,
    bank: &MelBank,
    device: Device,
    on_track: &mut dyn FnMut(),
) -> Result<Vec<f32>, String> {
    let mut vectors = Vec::with_capacity(bank.len() * 2 * net.representation_dim() as usize);
    for i in 0..bank.len() {
        vectors.extend(track_vector(net, bank, i, device)?);
        on_track();
    }
    Ok(vectors)
}

/// The `[mean, std]` vector of track `i` of `bank`.
pub fn track_vector(
    net: &Network,
    bank: &MelBank,
    i: usize,
    device: Device,
) -> Result<Vec<f32>, String> {
    let crop = CROP_FRAMES as usize;
    let slices = bank.frames(i).div_ceil(crop);
    if slices == 0 {
        return Err(format!("track {} has an empty mel", bank.ids[i]));
    }
    let mut features = Vec::with_capacity(slices.div_ceil(SLICES_PER_BATCH));
    for first in (0..slices).step_by(SLICES_PER_BATCH) {
        let n = SLICES_PER_BATCH.min(slices - first);
        let mut x = vec![0.0f32; n * CROP_LEN];
        for s in 0..n {
            bank.window_into(
                i,
                ((first + s) * crop) as isize,
                &mut x[s * CROP_LEN..(s + 1) * CROP_LEN],
            );
        }
        let input = Tensor::from_slice(&x)
            .view([n as i64, CHANNELS, CROP_FRAMES, BANDS])
            .to_device(device);
        features.push(tch::no_grad(|| net.representation_t(&input, false)));
    }
    mean_std(&Tensor::cat(&features, 0))
}

/// A track's vector from its slices' (or patches') features `[slices, d]`:
/// `[mean, std]` over the slices, `2 d` floats, population std (0 for a
/// single slice). The musicnn baseline aggregates its patches the same way.
pub fn mean_std(features: &Tensor) -> Result<Vec<f32>, String> {
    let mean = features.mean_dim(0, false, Kind::Float);
    let std = features.std_dim(0, false, false);
    let row = Tensor::cat(&[mean, std], 0).to_device(Device::Cpu);
    Vec::<f32>::try_from(row).map_err(|e| e.to_string())
}

/// A vector as an item record: its floats' bits in hex, exact (NaN too).
pub fn vector_record(vector: &[f32]) -> serde_json::Value {
    let hex: String = vector
        .iter()
        .map(|x| format!("{:08x}", x.to_bits()))
        .collect();
    serde_json::json!({ "vector": hex })
}

/// The vector an item record holds, if it has `width` floats.
pub fn vector_from_record(record: &serde_json::Value, width: usize) -> Option<Vec<f32>> {
    let hex = record["vector"].as_str()?;
    if hex.len() != 8 * width || !hex.is_ascii() {
        return None;
    }
    (0..width)
        .map(|i| {
            u32::from_str_radix(&hex[8 * i..8 * (i + 1)], 16)
                .ok()
                .map(f32::from_bits)
        })
        .collect()
}

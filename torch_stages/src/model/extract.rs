//! Extraction (SPEC 6): a track's mel is zero-padded to a multiple of 216
//! frames and cut into non-overlapping slices; the network, in eval mode,
//! gives each slice's representation (fc-feature, concatenated over the
//! branches where the strategy concatenates), and the track's vector is
//! `[mean, std]` over its slices (population std: 0 for a one-slice track).

use tch::{Device, Kind, Tensor};

use super::data::{MelBank, CROP_LEN};
use super::net::{Network, BANDS, CHANNELS, CROP_FRAMES};

/// Slices run through the network together.
const SLICES_PER_BATCH: usize = 128;

/// The vectors of every track of `bank`, `[tracks, 2 d]` row-major, d the
/// network's representation width. `on_track` is called once per track.
pub fn extract(
    net: &Network,
    bank: &MelBank,
    device: Device,
    on_track: &mut dyn FnMut(),
) -> Result<Vec<f32>, String> {
    let d = net.representation_dim() as usize;
    let mut vectors = Vec::with_capacity(bank.len() * 2 * d);
    let mut group: Vec<usize> = Vec::new();
    let mut slices_in_group = 0;
    let slices = |i: usize| bank.frames(i).div_ceil(CROP_FRAMES as usize);
    for i in 0..bank.len() {
        if slices(i) == 0 {
            return Err(format!("track {} has an empty mel", bank.ids[i]));
        }
        if !group.is_empty() && slices_in_group + slices(i) > SLICES_PER_BATCH {
            vectors.extend(group_vectors(net, bank, &group, device)?);
            group.iter().for_each(|_| on_track());
            group.clear();
            slices_in_group = 0;
        }
        group.push(i);
        slices_in_group += slices(i);
    }
    if !group.is_empty() {
        vectors.extend(group_vectors(net, bank, &group, device)?);
        group.iter().for_each(|_| on_track());
    }
    Ok(vectors)
}

/// `[mean, std]` vectors of a group of tracks, one forward pass.
fn group_vectors(
    net: &Network,
    bank: &MelBank,
    group: &[usize],
    device: Device,
) -> Result<Vec<f32>, String> {
    let crop = CROP_FRAMES as usize;
    let counts: Vec<usize> = group
        .iter()
        .map(|&i| bank.frames(i).div_ceil(crop))
        .collect();
    let total: usize = counts.iter().sum();
    let mut x = vec![0.0f32; total * CROP_LEN];
    let mut slot = 0;
    for (&i, &n) in group.iter().zip(&counts) {
        for s in 0..n {
            bank.window_into(
                i,
                (s * crop) as isize,
                &mut x[slot * CROP_LEN..(slot + 1) * CROP_LEN],
            );
            slot += 1;
        }
    }
    let input = Tensor::from_slice(&x)
        .view([total as i64, CHANNELS, CROP_FRAMES, BANDS])
        .to_device(device);
    let features = tch::no_grad(|| net.representation_t(&input, false));
    let mut out = Vec::new();
    let mut start = 0;
    for &n in &counts {
        let slices = features.narrow(0, start as i64, n as i64);
        let mean = slices.mean_dim(0, false, Kind::Float);
        let std = slices.std_dim(0, false, false);
        let row = Tensor::cat(&[mean, std], 0).to_device(Device::Cpu);
        out.extend(Vec::<f32>::try_from(row).map_err(|e| e.to_string())?);
        start += n;
    }
    Ok(out)
}

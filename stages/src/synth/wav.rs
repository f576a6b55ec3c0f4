//! 16-bit PCM WAV bytes, so a synthetic track goes through the same decode
//! path as any file a user brings.

use super::SynthError;

/// Interleaves `channels` (each of equal length, samples nominally in
/// [-1, 1]; clipped there) into a RIFF/WAVE file of 16-bit PCM.
pub fn encode_wav<C: AsRef<[f32]>>(
    channels: &[C],
    sample_rate: u32,
) -> Result<Vec<u8>, SynthError> {
    let bad = |reason: String| Err(SynthError::Wav(reason));
    if channels.is_empty() || channels.len() > 16 {
        return bad(format!("1..=16 channels needed, got {}", channels.len()));
    }
    if sample_rate == 0 {
        return bad("the sample rate must be positive".into());
    }
    let frames = channels[0].as_ref().len();
    if let Some(c) = channels.iter().position(|c| c.as_ref().len() != frames) {
        return bad(format!(
            "channel {c} has {} samples, channel 0 has {frames}",
            channels[c].as_ref().len()
        ));
    }
    let n_channels = channels.len() as u16;
    let block_align = 2 * n_channels;
    let data_bytes = frames as u64 * u64::from(block_align);
    if data_bytes > u64::from(u32::MAX) - 36 {
        return bad(format!(
            "{data_bytes} bytes of samples exceed the 4 GiB WAV limit"
        ));
    }
    let byte_rate = u64::from(sample_rate) * u64::from(block_align);
    let Ok(byte_rate) = u32::try_from(byte_rate) else {
        return bad(format!("byte rate {byte_rate} does not fit a WAV header"));
    };
    let mut out = Vec::with_capacity(44 + data_bytes as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_bytes as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&n_channels.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&byte_rate.to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_bytes as u32).to_le_bytes());
    for frame in 0..frames {
        for channel in channels {
            let v = channel.as_ref()[frame];
            // NaN becomes silence rather than a full-scale click.
            let v = if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
            out.extend_from_slice(&((v * 32767.0).round() as i16).to_le_bytes());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_samples_are_laid_out_as_riff() {
        let bytes = encode_wav(&[vec![0.0, 1.0], vec![-1.0, 0.5]], 22_050).unwrap();
        assert_eq!(bytes.len(), 44 + 8);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 44);
        assert_eq!(u16::from_le_bytes(bytes[22..24].try_into().unwrap()), 2);
        assert_eq!(
            u32::from_le_bytes(bytes[24..28].try_into().unwrap()),
            22_050
        );
        let sample =
            |i: usize| i16::from_le_bytes(bytes[44 + 2 * i..46 + 2 * i].try_into().unwrap());
        assert_eq!(
            [sample(0), sample(1), sample(2), sample(3)],
            [0, -32767, 32767, 16384]
        );
    }

    #[test]
    fn ragged_or_empty_input_is_an_error() {
        assert!(encode_wav(&[vec![0.0f32; 3], vec![0.0; 2]], 22_050).is_err());
        assert!(encode_wav::<Vec<f32>>(&[], 22_050).is_err());
        assert!(encode_wav(&[vec![0.0f32]], 0).is_err());
    }
}

//! Named tensors <-> safetensors bytes: the format of trained weights and of
//! training checkpoints. Bytes are deterministic (safetensors orders the
//! tensors by dtype and name), so equal weights have equal blake3 keys, and
//! the file loads in Python with `safetensors.torch.load_file`.

use std::borrow::Cow;
use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, View};
use tch::{Device, Kind, Tensor};

struct CpuView {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &CpuView {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn view(tensor: &Tensor) -> Result<CpuView, String> {
    let dtype = match tensor.kind() {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Int64 => Dtype::I64,
        other => return Err(format!("cannot store a tensor of kind {other:?}")),
    };
    let cpu = tensor.to_device(Device::Cpu).contiguous();
    let numel = cpu.numel();
    let mut bytes = vec![0u8; numel * cpu.kind().elt_size_in_bytes()];
    cpu.f_copy_data_u8(&mut bytes, numel)
        .map_err(|e| e.to_string())?;
    Ok(CpuView {
        dtype,
        shape: cpu.size().iter().map(|&d| d as usize).collect(),
        bytes,
    })
}

/// Serialises named tensors (any device) to safetensors bytes.
pub fn to_bytes(named: &[(String, Tensor)]) -> Result<Vec<u8>, String> {
    let views = named
        .iter()
        .map(|(name, t)| Ok((name.clone(), view(t)?)))
        .collect::<Result<Vec<_>, String>>()?;
    safetensors::tensor::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), &None)
        .map_err(|e| format!("safetensors: {e:?}"))
}

/// Reads safetensors bytes into CPU tensors by name.
pub fn from_bytes(bytes: &[u8]) -> Result<HashMap<String, Tensor>, String> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| format!("safetensors: {e:?}"))?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let tensor = Tensor::try_from(view).map_err(|e| format!("tensor `{name}`: {e}"))?;
            Ok((name, tensor))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_deterministic() {
        let named = vec![
            (
                "b".to_string(),
                Tensor::from_slice(&[1.5f32, -2.0]).view([1, 2]),
            ),
            ("a".to_string(), Tensor::from_slice(&[7i64])),
            ("c".to_string(), Tensor::from_slice(&[0.25f64])),
        ];
        let bytes = to_bytes(&named).unwrap();
        let mut reversed = named
            .iter()
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect::<Vec<_>>();
        reversed.reverse();
        assert_eq!(
            bytes,
            to_bytes(&reversed).unwrap(),
            "order-independent bytes"
        );
        let back = from_bytes(&bytes).unwrap();
        assert_eq!(back["b"].size(), [1, 2]);
        assert_eq!(
            Vec::<f32>::try_from(back["b"].flatten(0, -1)).unwrap(),
            [1.5, -2.0]
        );
        assert_eq!(back["a"].int64_value(&[0]), 7);
        assert!(from_bytes(b"not safetensors").is_err());
    }
}

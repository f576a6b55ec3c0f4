//! Adam with L2 on the gradient (PyTorch's `Adam(weight_decay=...)`) over
//! a group of parameters; [`super::optimizers`] arranges the groups.
//!
//! Algorithm 1 updates, at each iteration, only the path of the source it
//! drew, so each group keeps its own moments and step count: a group is
//! stepped (and its moments decay) only when its parameters were used.

use tch::Tensor;

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// The optimizer state of one source's path.
pub struct Adam {
    lr: f64,
    weight_decay: f64,
    /// Steps taken so far (the bias correction's t).
    pub steps: i64,
    /// `(variable name, variable)`, sorted by name.
    params: Vec<(String, Tensor)>,
    /// First and second moments, one per parameter.
    moments: Vec<(Tensor, Tensor)>,
}

impl Adam {
    pub fn new(params: Vec<(String, Tensor)>, lr: f64, weight_decay: f64) -> Adam {
        let moments = params
            .iter()
            .map(|(_, p)| (p.zeros_like(), p.zeros_like()))
            .collect();
        Adam {
            lr,
            weight_decay,
            steps: 0,
            params,
            moments,
        }
    }

    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The names of the parameters it updates.
    pub fn names(&self) -> Vec<String> {
        self.params.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Clears the gradients of this path (call before backward).
    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// One Adam step on the current gradients.
    pub fn step(&mut self) {
        self.steps += 1;
        let t = self.steps as i32;
        let correction1 = 1.0 - BETA1.powi(t);
        let correction2 = 1.0 - BETA2.powi(t);
        let step = self.lr / correction1;
        // In place, as torch.optim.Adam does: few temporaries per parameter.
        tch::no_grad(|| {
            for ((_, p), (m, v)) in self.params.iter_mut().zip(&mut self.moments) {
                let mut g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = g.g_add_(&(&*p * self.weight_decay));
                let _ = m.lerp_(&g, 1.0 - BETA1);
                let _ = v.g_mul_scalar_(BETA2);
                let _ = v.addcmul_(&g, &(&g * (1.0 - BETA2)));
                let mut denom = v.sqrt();
                let _ = denom.g_div_scalar_(correction2.sqrt());
                let _ = denom.g_add_scalar_(EPS);
                let _ = p.addcdiv_(&(&*m * -step), &denom);
            }
        });
    }

    /// The moments by name (`m/<var>`, `v/<var>`), for a checkpoint.
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.params
            .iter()
            .zip(&self.moments)
            .flat_map(|((name, _), (m, v))| {
                [
                    (format!("{prefix}m/{name}"), m.shallow_clone()),
                    (format!("{prefix}v/{name}"), v.shallow_clone()),
                ]
            })
            .collect()
    }

    /// Restores the moments saved by [`Adam::state`] with the same prefix.
    pub fn restore(
        &mut self,
        prefix: &str,
        saved: &std::collections::HashMap<String, Tensor>,
    ) -> Result<(), String> {
        for ((name, _), (m, v)) in self.params.iter().zip(&mut self.moments) {
            for (kind, target) in [("m", &mut *m), ("v", &mut *v)] {
                let key = format!("{prefix}{kind}/{name}");
                let value = saved
                    .get(&key)
                    .ok_or_else(|| format!("checkpoint lacks `{key}`"))?;
                tch::no_grad(|| target.copy_(value));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// PyTorch's Adam(lr=0.1, weight_decay=0.01) on f(p) = sum(p^2) from
    /// p = [1, -2], three steps (torch 2.13):
    /// `p=torch.tensor([1.,-2.],requires_grad=True); o=torch.optim.Adam([p],lr=0.1,weight_decay=0.01)`
    /// then 3x `o.zero_grad(); (p**2).sum().backward(); o.step()`.
    #[test]
    fn matches_pytorch_adam_with_weight_decay() {
        let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
        let mut adam = Adam::new(vec![("p".into(), p.shallow_clone())], 0.1, 0.01);
        for _ in 0..3 {
            adam.zero_grad();
            (&p * &p).sum(Kind::Float).backward();
            adam.step();
        }
        let got: Vec<f32> = Vec::try_from(p.detach().to_device(Device::Cpu)).unwrap();
        let want = [0.701_586_25f32, -1.700_623_4];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }
}

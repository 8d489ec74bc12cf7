//! Adam (optionally AMSGrad) with L2 weight decay, as `torch.optim.Adam`, and AdamW with
//! decoupled weight decay, as `torch.optim.AdamW`.

use super::{
    check_non_negative, check_positive, check_unit_interval, forward_to_core, lerp, Core,
    Optimizer, OptimizerState,
};
use crate::autograd::Var;
use crate::nn::batch::{split_values, Parts};
use crate::Result;

/// Settings of [`Adam`]; `Default` gives PyTorch's defaults: `lr = 1e-3`,
/// `betas = (0.9, 0.999)`, `eps = 1e-8`, `weight_decay = 0`, `amsgrad = false`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate γ, positive and finite.
    pub lr: f64,
    /// Decay rates (β₁, β₂) of the first and second moment averages, each in `[0, 1)`.
    pub betas: (f64, f64),
    /// ε > 0 added to the denominator.
    pub eps: f64,
    /// L2 penalty λ ≥ 0, added to the gradient as `λ·θ` (coupled with the moments).
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

/// Settings of [`AdamW`]; `Default` gives PyTorch's defaults: `lr = 1e-3`,
/// `betas = (0.9, 0.999)`, `eps = 1e-8`, `weight_decay = 1e-2`, `amsgrad = false`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate γ, positive and finite.
    pub lr: f64,
    /// Decay rates (β₁, β₂) of the first and second moment averages, each in `[0, 1)`.
    pub betas: (f64, f64),
    /// ε > 0 added to the denominator.
    pub eps: f64,
    /// Decoupled decay λ ≥ 0: each step first scales θ by `1 − γλ`.
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

impl From<AdamConfig> for AdamWConfig {
    /// The same figures, the weight decay now decoupled from the moments.
    fn from(c: AdamConfig) -> Self {
        AdamWConfig {
            lr: c.lr,
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            amsgrad: c.amsgrad,
        }
    }
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }
}

impl AdamConfig {
    /// Check every setting (the learning rate is checked by the optimiser).
    pub fn validate(&self) -> Result<()> {
        validate(self.betas, self.eps, self.weight_decay)
    }
}

impl AdamWConfig {
    /// Check every setting (the learning rate is checked by the optimiser).
    pub fn validate(&self) -> Result<()> {
        validate(self.betas, self.eps, self.weight_decay)
    }
}

fn validate(betas: (f64, f64), eps: f64, weight_decay: f64) -> Result<()> {
    check_unit_interval("beta1", betas.0)?;
    check_unit_interval("beta2", betas.1)?;
    check_positive("eps", eps)?;
    check_non_negative("weight decay", weight_decay)
}

/// The update shared by Adam and AdamW, for one parameter at its step t (from 1):
///
/// ```text
/// θ ← θ(1 − γλ)                 (AdamW)      g ← g + λθ   (Adam, if λ ≠ 0)
/// m ← m + (1 − β₁)(g − m)       (PyTorch's lerp; equal to β₁m + (1 − β₁)g)
/// v ← β₂v + (1 − β₂)g²
/// v̂max ← max(v̂max, v)           (AMSGrad; then used in place of v)
/// denom ← √v / √(1 − β₂ᵗ) + ε
/// θ ← θ − (γ / (1 − β₁ᵗ)) · m / denom
/// ```
struct AdamCore {
    core: Core,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    decoupled: bool,
}

impl AdamCore {
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: &'static str,
        params: Vec<Var<f32>>,
        lr: f64,
        betas: (f64, f64),
        eps: f64,
        weight_decay: f64,
        amsgrad: bool,
        decoupled: bool,
    ) -> Result<Self> {
        let mut buffers = vec!["exp_avg", "exp_avg_sq"];
        if amsgrad {
            buffers.push("max_exp_avg_sq");
        }
        Ok(AdamCore {
            core: Core::new(kind, params, lr, buffers)?,
            betas,
            eps,
            weight_decay,
            amsgrad,
            decoupled,
        })
    }

    fn step(&mut self) -> Result<()> {
        let lr = self.core.lr();
        let (beta1, beta2) = self.betas;
        // Scalars PyTorch computes in double precision and hands to f32 kernels.
        let decay_factor = (1.0 - lr * self.weight_decay) as f32;
        let l2 = if self.decoupled {
            0.0
        } else {
            self.weight_decay as f32
        };
        let decoupled = self.decoupled && self.weight_decay != 0.0;
        let lerp_weight = (1.0 - beta1) as f32;
        let beta2_f = beta2 as f32;
        let sq_weight = (1.0 - beta2) as f32;
        let eps = self.eps as f32;
        let amsgrad = self.amsgrad;
        self.core.step(|theta, grad, st, _first| {
            let t = st.step as f64;
            let bias_correction1 = 1.0 - beta1.powf(t);
            let bias_correction2 = 1.0 - beta2.powf(t);
            let neg_step_size = -(lr / bias_correction1) as f32;
            let bias_correction2_sqrt = bias_correction2.sqrt() as f32;
            let (moments, rest) = st.buffers.split_at_mut(2);
            let (exp_avg, exp_avg_sq) = moments.split_at_mut(1);
            let (exp_avg, exp_avg_sq) = (&mut exp_avg[0], &mut exp_avg_sq[0]);
            let mut max_sq = rest.first_mut();
            if !decoupled && l2 == 0.0 && !amsgrad && lerp_weight.abs() < 0.5 {
                let k = PlainAdamStep {
                    lerp_weight,
                    beta2: beta2_f,
                    sq_weight,
                    bias_correction2_sqrt,
                    eps,
                    neg_step_size,
                };
                let n = theta.len();
                assert!(grad.len() == n && exp_avg.len() == n && exp_avg_sq.len() == n);
                let (t, m, v) = (
                    Parts(theta.as_mut_ptr()),
                    Parts(exp_avg.as_mut_ptr()),
                    Parts(exp_avg_sq.as_mut_ptr()),
                );
                split_values(n, |r| {
                    // SAFETY: the runs are disjoint and inside the buffers (all of length n).
                    let (t, m, v) = unsafe {
                        (
                            t.slice(r.start, r.len()),
                            m.slice(r.start, r.len()),
                            v.slice(r.start, r.len()),
                        )
                    };
                    k.apply(t, &grad[r], m, v)
                });
                return;
            }
            for (i, (p, &g)) in theta.iter_mut().zip(grad).enumerate() {
                if decoupled {
                    *p *= decay_factor;
                }
                let g = if l2 != 0.0 { g + l2 * *p } else { g };
                let m = lerp(exp_avg[i], g, lerp_weight);
                exp_avg[i] = m;
                let v = exp_avg_sq[i] * beta2_f + sq_weight * g * g;
                exp_avg_sq[i] = v;
                let v = match (&mut max_sq, amsgrad) {
                    (Some(max), true) => {
                        let vmax = max[i].max(v);
                        max[i] = vmax;
                        vmax
                    }
                    _ => v,
                };
                let denom = v.sqrt() / bias_correction2_sqrt + eps;
                *p += neg_step_size * m / denom;
            }
        })
    }
}

/// The constants of one Adam step without weight decay or AMSGrad (the common case), for a
/// loop the compiler can vectorise. It computes exactly the general loop's expressions in the
/// same order (no fused multiply-add), so the results are bit-identical to it.
struct PlainAdamStep {
    lerp_weight: f32,
    beta2: f32,
    sq_weight: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
    neg_step_size: f32,
}

impl PlainAdamStep {
    #[inline(always)]
    fn body(&self, theta: &mut [f32], grad: &[f32], exp_avg: &mut [f32], exp_avg_sq: &mut [f32]) {
        let n = theta.len();
        let (grad, exp_avg, exp_avg_sq) = (&grad[..n], &mut exp_avg[..n], &mut exp_avg_sq[..n]);
        for (((p, &g), m), v) in theta
            .iter_mut()
            .zip(grad)
            .zip(exp_avg.iter_mut())
            .zip(exp_avg_sq.iter_mut())
        {
            // lerp(m, g, w) with |w| < 0.5, as in `lerp`.
            let m_new = *m + self.lerp_weight * (g - *m);
            *m = m_new;
            let v_new = *v * self.beta2 + self.sq_weight * g * g;
            *v = v_new;
            let denom = v_new.sqrt() / self.bias_correction2_sqrt + self.eps;
            *p += self.neg_step_size * m_new / denom;
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn body_avx2(
        &self,
        theta: &mut [f32],
        grad: &[f32],
        exp_avg: &mut [f32],
        exp_avg_sq: &mut [f32],
    ) {
        self.body(theta, grad, exp_avg, exp_avg_sq)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f")]
    unsafe fn body_avx512(
        &self,
        theta: &mut [f32],
        grad: &[f32],
        exp_avg: &mut [f32],
        exp_avg_sq: &mut [f32],
    ) {
        self.body(theta, grad, exp_avg, exp_avg_sq)
    }

    /// Update `theta` and the two moment buffers in place (all of one length), with the widest
    /// vectors the kernel path uses (every operation is exactly rounded, so every width gives
    /// the same bits).
    fn apply(&self, theta: &mut [f32], grad: &[f32], exp_avg: &mut [f32], exp_avg_sq: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if crate::tensor::gemm::kernel_path() == crate::tensor::gemm::KernelPath::Avx512 {
            // SAFETY: that path is only chosen on CPUs with AVX-512F; the body is safe code.
            unsafe { self.body_avx512(theta, grad, exp_avg, exp_avg_sq) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above); the body is safe code.
            unsafe { self.body_avx2(theta, grad, exp_avg, exp_avg_sq) };
            return;
        }
        self.body(theta, grad, exp_avg, exp_avg_sq)
    }
}

/// Adam (Kingma & Ba), with L2 weight decay added to the gradient; see [`AdamConfig`].
///
/// Per step t (counted per parameter, from 1), with gradient g:
///
/// ```text
/// g ← g + λθ                      (if λ ≠ 0)
/// m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²
/// θ ← θ − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// With `amsgrad`, `v` in the last line is replaced by its running maximum.
pub struct Adam {
    inner: AdamCore,
    cfg: AdamConfig,
}

impl Adam {
    /// An Adam optimiser over `params` (leaves). Errors with [`crate::Error::Param`] on an
    /// empty list, a non-leaf, or a setting out of its domain.
    pub fn new(params: Vec<Var<f32>>, cfg: AdamConfig) -> Result<Self> {
        cfg.validate()?;
        let inner = AdamCore::new(
            "adam",
            params,
            cfg.lr,
            cfg.betas,
            cfg.eps,
            cfg.weight_decay,
            cfg.amsgrad,
            false,
        )?;
        Ok(Adam { inner, cfg })
    }

    /// The settings (with the learning rate the optimiser was built with).
    pub fn config(&self) -> &AdamConfig {
        &self.cfg
    }
}

/// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay; see [`AdamWConfig`].
///
/// Each step first shrinks θ ← θ(1 − γλ), then applies the Adam update without any L2 term.
pub struct AdamW {
    inner: AdamCore,
    cfg: AdamWConfig,
}

impl AdamW {
    /// An AdamW optimiser over `params` (leaves). Errors with [`crate::Error::Param`] on an
    /// empty list, a non-leaf, or a setting out of its domain.
    pub fn new(params: Vec<Var<f32>>, cfg: AdamWConfig) -> Result<Self> {
        cfg.validate()?;
        let inner = AdamCore::new(
            "adamw",
            params,
            cfg.lr,
            cfg.betas,
            cfg.eps,
            cfg.weight_decay,
            cfg.amsgrad,
            true,
        )?;
        Ok(AdamW { inner, cfg })
    }

    /// The settings (with the learning rate the optimiser was built with).
    pub fn config(&self) -> &AdamWConfig {
        &self.cfg
    }
}

macro_rules! impl_optimizer_for_adam {
    ($ty:ty, $name:literal) => {
        impl Optimizer for $ty {
            fn step(&mut self) -> Result<()> {
                self.inner.step()
            }

            forward_to_core!(inner.core);

            fn name(&self) -> &'static str {
                $name
            }
        }
    };
}

impl_optimizer_for_adam!(Adam, "adam");
impl_optimizer_for_adam!(AdamW, "adamw");

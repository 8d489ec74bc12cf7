use serde::{Deserialize, Serialize};

use super::Activation;
use crate::rng::Rng;
use crate::{Error, Result};

/// How to draw initial weights. `fan_in` and `fan_out` are a layer's input and output counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All equal to `value`.
    Constant { value: f32 },
    /// U(lo, hi).
    Uniform { lo: f32, hi: f32 },
    /// N(mean, std²).
    Normal { mean: f32, std: f32 },
    /// Xavier/Glorot uniform: U(±√(6 / (fan_in + fan_out))), keeps variance through sigmoid/tanh.
    XavierUniform,
    /// Xavier/Glorot normal: N(0, 2 / (fan_in + fan_out)).
    XavierNormal,
    /// He/Kaiming uniform for ReLU: U(±√(6 / fan_in)).
    HeUniform,
    /// He/Kaiming normal for ReLU: N(0, 2 / fan_in).
    HeNormal,
    /// LeCun normal: N(0, 1 / fan_in).
    LecunNormal,
    /// PyTorch's `nn.Linear` default: U(±1/√fan_in).
    TorchDefault,
}

impl Init {
    /// The sensible default for an activation: He for the ReLU family, Xavier for sigmoid and
    /// tanh (and identity).
    pub fn default_for(act: Activation) -> Init {
        match act {
            Activation::Relu | Activation::LeakyRelu { .. } => Init::HeNormal,
            _ => Init::XavierUniform,
        }
    }

    /// Parse a CLI-style name: `auto` is resolved by the caller; `xavier`, `he`, `lecun`, ...
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "xavier" | "glorot" | "xavier_uniform" => Init::XavierUniform,
            "xavier_normal" | "glorot_normal" => Init::XavierNormal,
            "he" | "kaiming" | "he_normal" => Init::HeNormal,
            "he_uniform" | "kaiming_uniform" => Init::HeUniform,
            "lecun" | "lecun_normal" => Init::LecunNormal,
            "torch" | "pytorch" => Init::TorchDefault,
            "zeros" => Init::Zeros,
            other => {
                return Err(Error::param(
                    "init",
                    format!("unknown initialiser '{other}' (expected auto, xavier, he, lecun, xavier_normal, he_uniform, torch or zeros)"),
                ))
            }
        })
    }

    /// Fill `out` with draws for a layer of the given fans.
    pub fn fill(&self, out: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut Rng) {
        let fi = fan_in.max(1) as f64;
        let fo = fan_out.max(1) as f64;
        match *self {
            Init::Zeros => out.iter_mut().for_each(|x| *x = 0.0),
            Init::Constant { value } => out.iter_mut().for_each(|x| *x = value),
            Init::Uniform { lo, hi } => uniform(out, lo as f64, hi as f64, rng),
            Init::Normal { mean, std } => normal(out, mean as f64, std as f64, rng),
            Init::XavierUniform => {
                let a = (6.0 / (fi + fo)).sqrt();
                uniform(out, -a, a, rng)
            }
            Init::XavierNormal => normal(out, 0.0, (2.0 / (fi + fo)).sqrt(), rng),
            Init::HeUniform => {
                let a = (6.0 / fi).sqrt();
                uniform(out, -a, a, rng)
            }
            Init::HeNormal => normal(out, 0.0, (2.0 / fi).sqrt(), rng),
            Init::LecunNormal => normal(out, 0.0, (1.0 / fi).sqrt(), rng),
            Init::TorchDefault => {
                let a = 1.0 / fi.sqrt();
                uniform(out, -a, a, rng)
            }
        }
    }
}

fn uniform(out: &mut [f32], lo: f64, hi: f64, rng: &mut Rng) {
    for x in out {
        *x = rng.uniform(lo, hi) as f32;
    }
}

fn normal(out: &mut [f32], mean: f64, std: f64, rng: &mut Rng) {
    for x in out {
        *x = (mean + std * rng.normal()) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(v: &[f32]) -> (f64, f64) {
        let n = v.len() as f64;
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
        (m, var)
    }

    #[test]
    fn variances_follow_the_formulas() {
        let mut rng = Rng::new(3);
        let (fi, fo) = (300, 100);
        let mut w = vec![0.0f32; 60000];
        for (init, want) in [
            (Init::XavierUniform, 2.0 / (fi + fo) as f64),
            (Init::XavierNormal, 2.0 / (fi + fo) as f64),
            (Init::HeUniform, 2.0 / fi as f64),
            (Init::HeNormal, 2.0 / fi as f64),
            (Init::LecunNormal, 1.0 / fi as f64),
            (Init::TorchDefault, 1.0 / (3.0 * fi as f64)),
        ] {
            init.fill(&mut w, fi, fo, &mut rng);
            let (m, var) = stats(&w);
            assert!(m.abs() < 0.01 * want.sqrt() * 5.0, "{init:?} mean {m}");
            assert!(
                (var / want - 1.0).abs() < 0.03,
                "{init:?} var {var} want {want}"
            );
        }
    }

    #[test]
    fn defaults_per_activation() {
        assert_eq!(Init::default_for(Activation::Relu), Init::HeNormal);
        assert_eq!(Init::default_for(Activation::Sigmoid), Init::XavierUniform);
        assert_eq!(Init::default_for(Activation::Tanh), Init::XavierUniform);
    }
}

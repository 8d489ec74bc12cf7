//! [`LayerSpec`]: the serialisable description of a layer, from which the model file rebuilds
//! a network, and [`LayerRegistry`], which rebuilds layers defined outside nabla.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Activation, ActivationLayer, AvgPool2d, BatchNormConfig, Cascade, Conv2dConfig, Dropout,
    Flatten, Init, LinearConfig, MaxPool2d, Module,
};
use crate::rng::Rng;
use crate::{Element, Error, Result};

/// One layer of a network, as stored in a model file (format 2). Parameters are stored
/// separately, as tensors named like a PyTorch `nn.Sequential` state dict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
pub enum LayerSpec {
    /// [`super::Linear`]: `in_features → out_features`.
    Linear {
        in_features: usize,
        out_features: usize,
    },
    /// [`ActivationLayer`].
    Activation { activation: Activation },
    /// [`Dropout`] with drop probability `p`.
    Dropout { p: f32 },
    /// [`super::Conv2d`]: `[height, width]` pairs for kernel, stride and padding.
    Conv2d {
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        /// A learned bias per output channel (absent in older files: true).
        #[serde(default = "with_bias")]
        bias: bool,
    },
    /// [`super::MaxPool2d`].
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
    },
    /// [`super::AvgPool2d`].
    AvgPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
    },
    /// [`super::Flatten`].
    Flatten,
    /// [`super::BatchNorm`] over `channels` (features of 1-D rows, channels of 2-D ones).
    BatchNorm {
        channels: usize,
        eps: f64,
        momentum: f64,
    },
    /// [`super::Cascade`]: a cascade-correlation network, `in_features → out_features` through
    /// hidden units with shortcut connections, one per entry of `units` (its activation), in
    /// installation order. Its tensors are `units.weight` `[U, I + U]`, `units.bias` `[U]`,
    /// `output.weight` `[O, I + U]` and `output.bias` `[O]` (no unit tensors when U = 0). It
    /// has no `torch.nn.Sequential` counterpart.
    Cascade {
        in_features: usize,
        out_features: usize,
        units: Vec<Activation>,
    },
    /// A layer defined outside nabla, rebuilt by the [`LayerRegistry`] entry `name` from
    /// `config`.
    Custom {
        name: String,
        #[serde(default)]
        config: serde_json::Value,
    },
}

impl LayerSpec {
    /// A short description in the style of `--arch`: `linear(64 → 10)`, `relu`, `dropout(0.2)`.
    pub fn describe(&self) -> String {
        match self {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => format!("linear({in_features} → {out_features})"),
            LayerSpec::Activation { activation } => match activation {
                Activation::LeakyRelu { alpha } => format!("leaky_relu({alpha})"),
                a => a.name().to_string(),
            },
            LayerSpec::Dropout { p } => format!("dropout({p})"),
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
                bias,
            } => format!(
                "conv2d({in_channels} → {out_channels}, kernel {}×{}, stride {}×{}, padding {}×{}{})",
                kernel[0],
                kernel[1],
                stride[0],
                stride[1],
                padding[0],
                padding[1],
                if *bias { "" } else { ", no bias" }
            ),
            LayerSpec::MaxPool2d { kernel, stride } => format!(
                "maxpool2d({}×{}, stride {}×{})",
                kernel[0], kernel[1], stride[0], stride[1]
            ),
            LayerSpec::AvgPool2d { kernel, stride } => format!(
                "avgpool2d({}×{}, stride {}×{})",
                kernel[0], kernel[1], stride[0], stride[1]
            ),
            LayerSpec::Flatten => "flatten".into(),
            LayerSpec::BatchNorm { channels, .. } => format!("batchnorm({channels})"),
            LayerSpec::Cascade {
                in_features,
                out_features,
                units,
            } => {
                let s = if units.len() == 1 { "" } else { "s" };
                let kinds: Vec<&str> = units.iter().map(Activation::name).collect();
                let listed = match kinds.is_empty() {
                    true => String::new(),
                    false => format!(": {}", kinds.join(" ")),
                };
                format!(
                    "cascade({in_features} → {out_features}, {} unit{s}{listed})",
                    units.len()
                )
            }
            LayerSpec::Custom { name, .. } => name.clone(),
        }
    }

    /// The layer's kind as PyTorch names it in lower case (`linear`, `relu`, `dropout`), or a
    /// custom layer's name: what a drawn graph calls the layer's node.
    pub fn kind(&self) -> &str {
        match self {
            LayerSpec::Custom { name, .. } => name,
            builtin => builtin.builtin_kind().unwrap_or("layer"),
        }
    }

    /// [`LayerSpec::kind`] of a built-in layer, as a name that lives as long as the program
    /// (`None` for a custom layer).
    pub fn builtin_kind(&self) -> Option<&'static str> {
        Some(match self {
            LayerSpec::Linear { .. } => "linear",
            LayerSpec::Activation { activation } => activation.name(),
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::MaxPool2d { .. } => "maxpool2d",
            LayerSpec::AvgPool2d { .. } => "avgpool2d",
            LayerSpec::Flatten => "flatten",
            LayerSpec::BatchNorm { .. } => "batchnorm",
            LayerSpec::Cascade { .. } => "cascade",
            LayerSpec::Custom { .. } => return None,
        })
    }

    /// The activation this layer applies, if it is one.
    pub fn activation(&self) -> Option<Activation> {
        match self {
            LayerSpec::Activation { activation } => Some(*activation),
            _ => None,
        }
    }
}

/// How to build a layer: weights drawn with `init` from `rng`; a dropout layer's generator
/// seeded with `seed`.
pub struct BuildContext<'a> {
    /// Initialiser of a layer's weights.
    pub init: Init,
    /// The generator that draws every layer's weights, in layer order.
    pub rng: &'a mut Rng,
    /// Seed of this layer's own generator (dropout).
    pub seed: u64,
}

/// Builds a custom layer from its [`LayerSpec::Custom`] config.
pub type LayerBuilder = fn(&serde_json::Value, &mut BuildContext<'_>) -> Result<Box<dyn Module>>;

/// Builders of layers defined outside nabla, by name, so that a model file holding them can be
/// rebuilt (see [`crate::io::load_model_with`]).
#[derive(Clone, Default)]
pub struct LayerRegistry {
    builders: BTreeMap<String, LayerBuilder>,
}

impl std::fmt::Debug for LayerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.builders.keys()).finish()
    }
}

impl LayerRegistry {
    /// An empty registry (the built-in layers need none).
    pub fn new() -> Self {
        Self::default()
    }

    /// Register the builder of custom layers named `name`.
    pub fn register(&mut self, name: impl Into<String>, builder: LayerBuilder) -> &mut Self {
        self.builders.insert(name.into(), builder);
        self
    }

    /// Build one layer from its description.
    pub fn build(&self, spec: &LayerSpec, ctx: &mut BuildContext<'_>) -> Result<Box<dyn Module>> {
        build_layer::<f32>(spec, ctx).or_else(|e| match spec {
            LayerSpec::Custom { name, config } => match self.builders.get(name) {
                Some(b) => b(config, ctx),
                None => Err(Error::param(
                    "layer",
                    format!("no builder is registered for the custom layer '{name}'"),
                )),
            },
            _ => Err(e),
        })
    }
}

/// Build a built-in layer from its description (a custom one gives an error).
pub fn build_layer<E: Element>(
    spec: &LayerSpec,
    ctx: &mut BuildContext<'_>,
) -> Result<Box<dyn Module<E>>> {
    Ok(match spec {
        LayerSpec::Linear {
            in_features,
            out_features,
        } => Box::new(
            LinearConfig {
                in_features: *in_features,
                out_features: *out_features,
                init: ctx.init,
            }
            .init::<E>(ctx.rng)?,
        ),
        LayerSpec::Activation { activation } => {
            activation.validate()?;
            Box::new(ActivationLayer(*activation))
        }
        LayerSpec::Dropout { p } => Box::new(Dropout::new(*p, ctx.seed)?),
        LayerSpec::Conv2d { .. } => Box::new(
            Conv2dConfig::from_spec(spec, ctx.init)
                .expect("a conv2d spec")
                .init::<E>(ctx.rng)?,
        ),
        LayerSpec::MaxPool2d { kernel, stride } => Box::new(MaxPool2d {
            kernel: *kernel,
            stride: *stride,
        }),
        LayerSpec::AvgPool2d { kernel, stride } => Box::new(AvgPool2d {
            kernel: *kernel,
            stride: *stride,
        }),
        LayerSpec::Flatten => Box::new(Flatten),
        LayerSpec::BatchNorm {
            channels,
            eps,
            momentum,
        } => Box::new(
            BatchNormConfig {
                channels: *channels,
                eps: *eps,
                momentum: *momentum,
            }
            .init::<E>()?,
        ),
        LayerSpec::Cascade {
            in_features,
            out_features,
            units,
        } => Box::new(Cascade::<E>::new(
            *in_features,
            *out_features,
            units,
            ctx.init,
            ctx.rng,
        )?),
        LayerSpec::Custom { name, .. } => {
            return Err(Error::param(
                "layer",
                format!("'{name}' is a custom layer; build it through a LayerRegistry"),
            ))
        }
    })
}

/// The serde default of [`LayerSpec::Conv2d`]'s `bias`.
fn with_bias() -> bool {
    true
}

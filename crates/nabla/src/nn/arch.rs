//! [`Architecture`]: a network written as text, layer by layer with PyTorch's names in lower
//! case, and resolved against an input shape and an output count into [`LayerSpec`]s.

use std::fmt;
use std::str::FromStr;

use super::spec::{build_layer, BuildContext};
use super::{Activation, BatchNormConfig, Conv2dConfig, Init, LayerSpec};
use crate::rng::Rng;
use crate::{Error, Result};

/// The most weights one layer may hold, and the most values it may make of one row (2³¹,
/// 8 GiB of f32): a larger layer is refused by [`Architecture::resolve`] before anything is
/// allocated.
pub const MAX_LAYER_VALUES: usize = 1 << 31;

/// A network written as text: parse it with [`Architecture::parse`] (or `str::parse`), then
/// [`Architecture::resolve`] it for an input shape and an output count.
///
/// # Syntax
///
/// A comma-separated list of layers; whitespace is free and names are case-insensitive:
///
/// | layer | meaning |
/// |---|---|
/// | `conv2d(OUT, K[, stride=S][, padding=P])` | [`super::Conv2d`] with OUT filters |
/// | `maxpool2d(K[, stride=S])` | [`super::MaxPool2d`]; the stride defaults to K |
/// | `avgpool2d(K[, stride=S])` | [`super::AvgPool2d`]; the stride defaults to K |
/// | `batchnorm` | [`super::BatchNorm`] over the features (1-D) or channels (maps) |
/// | `flatten` | [`super::Flatten`] |
/// | `linear(OUT)` | [`super::Linear`]; the **last** linear may be written `linear`, and the task's output count sets OUT |
/// | `relu`, `tanh`, `sigmoid`, `leaky_relu(ALPHA)` | activations (ALPHA defaults to 0.01) |
/// | `dropout(P)` | [`super::Dropout`] (P defaults to 0.5) |
///
/// K, S and P are one whole number for a square window (`3`) or `HxW` for a rectangular one
/// (`3x5`: 3 rows, 5 columns). Stride and padding may also be given by position, in PyTorch's
/// order (`conv2d(32, 3, 1, 1)` is `conv2d(32, 3, stride=1, padding=1)`). Defaults are
/// PyTorch's: stride 1 and padding 0 for conv2d.
///
/// Input channels, input features and batchnorm's channels are never written: they follow from
/// the shape that reaches each layer. A layer that cannot take that shape is an error naming
/// the layer, its 1-based position and the shapes, before any weight is drawn; so is a layer
/// of more than [`MAX_LAYER_VALUES`] weights, or one that makes more values of a row.
///
/// The layers hold no weights: [`super::Sequential::from_specs`] draws them, layer by layer
/// from one seeded generator, with the initialiser given (with [`Init::TorchDefault`],
/// PyTorch's defaults: Kaiming uniform with a = √5, U(±1/√fan_in), for conv2d and linear
/// weights and biases alike).
///
/// ```
/// use nabla::nn::{Architecture, LayerSpec, Sequential};
///
/// let arch: Architecture = "conv2d(4, 3), relu, maxpool2d(2), flatten, linear".parse()?;
/// let specs = arch.resolve(&[1, 8, 8], 10)?;
/// assert_eq!(specs.last(), Some(&LayerSpec::Linear { in_features: 36, out_features: 10 }));
/// let net = Sequential::<f32>::from_specs(&[1, 8, 8], &specs, None, 0)?;
/// assert_eq!(net.output_shape()?, [10]);
///
/// let err = "conv2d(4, 3), relu, linear".parse::<Architecture>()?.resolve(&[1, 8, 8], 10);
/// assert!(err.unwrap_err().to_string().contains("add flatten"));
/// # Ok::<(), nabla::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    layers: Vec<Layer>,
}

/// One parsed layer and the text it was written as (for messages). Sizes that come from the
/// input are 0 until [`Architecture::resolve`] sets them: conv2d's `in_channels`, linear's
/// `in_features` (and `out_features` when OUT is left out), batchnorm's `channels`.
#[derive(Clone, Debug, PartialEq)]
struct Layer {
    text: String,
    spec: LayerSpec,
}

/// `64×1×1`: a row shape as people read it.
pub fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    dims.join("×")
}

fn layer_err(
    position: usize,
    text: &str,
    shape: Option<&[usize]>,
    msg: impl Into<String>,
) -> Error {
    Error::Architecture {
        position,
        layer: text.to_string(),
        shape: shape.map(<[usize]>::to_vec),
        msg: msg.into(),
    }
}

/// What a layer takes, for parsing its arguments and for the message when they are wrong.
struct Signature {
    /// `conv2d takes (OUT, K[, stride=S][, padding=P][, bias=false])`.
    usage: &'static str,
    /// Parameter names in positional order, the required ones first.
    params: &'static [&'static str],
    required: usize,
    /// Parameters that may also be written `name=value`.
    keywords: &'static [&'static str],
}

const CONV2D: Signature = Signature {
    usage: "conv2d takes (OUT, K[, stride=S][, padding=P][, bias=false])",
    params: &["OUT", "K", "stride", "padding", "bias"],
    required: 2,
    keywords: &["stride", "padding", "bias"],
};
const POOL: [Signature; 2] = [
    Signature {
        usage: "maxpool2d takes (K[, stride=S])",
        params: &["K", "stride"],
        required: 1,
        keywords: &["stride"],
    },
    Signature {
        usage: "avgpool2d takes (K[, stride=S])",
        params: &["K", "stride"],
        required: 1,
        keywords: &["stride"],
    },
];
const LINEAR: Signature = Signature {
    usage: "linear takes (OUT); only the last linear may leave OUT out",
    params: &["OUT"],
    required: 0,
    keywords: &[],
};
const DROPOUT: Signature = Signature {
    usage: "dropout takes (P), the drop probability in [0, 1)",
    params: &["P"],
    required: 0,
    keywords: &[],
};
const LEAKY_RELU: Signature = Signature {
    usage: "leaky_relu takes (ALPHA), the slope below 0",
    params: &["ALPHA"],
    required: 0,
    keywords: &[],
};

/// The layer names, for the message about an unknown one.
const NAMES: &str =
    "conv2d, maxpool2d, avgpool2d, batchnorm, flatten, linear, relu, leaky_relu, tanh, sigmoid, dropout";

/// One layer's arguments, matched to a [`Signature`]: the value text of each parameter.
struct Args<'a> {
    values: Vec<Option<&'a str>>,
    position: usize,
    text: &'a str,
}

impl<'a> Args<'a> {
    fn get(&self, i: usize) -> Option<&'a str> {
        self.values.get(i).copied().flatten()
    }

    fn err(&self, msg: impl Into<String>) -> Error {
        layer_err(self.position, self.text, None, msg)
    }

    /// A whole number ≥ 1.
    fn count(&self, i: usize, name: &str) -> Result<Option<usize>> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(self.err(format!("{name} '{v}' is not a whole number of at least 1"))),
        }
    }

    /// `A` or `HxW`, each at least `min`.
    fn size(&self, i: usize, name: &str, min: usize) -> Result<Option<[usize; 2]>> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        let mut parts = v.split(['x', 'X', '×']);
        let dims: Option<Vec<usize>> = parts.by_ref().map(|p| p.parse().ok()).collect();
        match dims.as_deref() {
            Some(&[a]) if a >= min => Ok(Some([a, a])),
            Some(&[h, w]) if h >= min && w >= min => Ok(Some([h, w])),
            _ => Err(self.err(format!(
                "{name} '{v}' is not a size: expected a whole number of at least {min}, or HxW \
                 (e.g. 3 or 3x5)"
            ))),
        }
    }

    /// `true` or `false`.
    fn flag(&self, i: usize, name: &str) -> Result<Option<bool>> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        match v.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(self.err(format!("{name} '{v}' is not true or false"))),
        }
    }

    /// A real number.
    fn number(&self, i: usize, name: &str) -> Result<Option<f32>> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        match v.parse::<f32>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(self.err(format!("{name} '{v}' is not a number"))),
        }
    }
}

/// Match the argument texts of a layer to `sig`: positional ones in order, then `name=value`.
fn match_args<'a>(
    args: &[&'a str],
    sig: &Signature,
    position: usize,
    text: &'a str,
) -> Result<Args<'a>> {
    let usage = || layer_err(position, text, None, sig.usage);
    let mut values: Vec<Option<&str>> = vec![None; sig.params.len()];
    let mut next = 0;
    for arg in args {
        match arg.split_once('=') {
            Some((key, value)) => {
                let key = key.trim().to_ascii_lowercase();
                let Some(i) = sig.params.iter().position(|p| *p == key) else {
                    return Err(layer_err(
                        position,
                        text,
                        None,
                        format!("unknown argument '{key}'; {}", sig.usage),
                    ));
                };
                if !sig.keywords.contains(&sig.params[i]) {
                    return Err(usage());
                }
                if values[i].is_some() {
                    return Err(layer_err(
                        position,
                        text,
                        None,
                        format!("{key} is given twice"),
                    ));
                }
                values[i] = Some(value.trim());
                next = sig.params.len();
            }
            None if next < sig.params.len() => {
                values[next] = Some(arg.trim());
                next += 1;
            }
            // Too many, or a positional argument after a named one.
            None => return Err(usage()),
        }
    }
    if values[..sig.required].iter().any(Option::is_none) {
        return Err(usage());
    }
    Ok(Args {
        values,
        position,
        text,
    })
}

/// Split `text` at the commas outside parentheses: `(start, layer text)` for each layer, or
/// the error of an unbalanced parenthesis.
fn split_layers(text: &str) -> Result<Vec<&str>> {
    let mut layers = vec![];
    let (mut depth, mut start) = (0usize, 0usize);
    let unbalanced = |layers: &Vec<&str>, layer: &str, msg: &str| {
        layer_err(layers.len() + 1, layer.trim(), None, msg)
    };
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                let end = text[i..].find(',').map_or(text.len(), |j| i + j);
                return Err(unbalanced(&layers, &text[start..end], "unexpected ')'"));
            }
            ')' => depth -= 1,
            ',' if depth == 0 => {
                layers.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err(unbalanced(&layers, &text[start..], "missing ')'"));
    }
    layers.push(&text[start..]);
    Ok(layers)
}

/// Parse one layer's text (already trimmed).
fn parse_layer(text: &str, position: usize) -> Result<LayerSpec> {
    let err = |msg: String| layer_err(position, text, None, msg);
    if text.is_empty() {
        return Err(err(
            "no layer here (two commas in a row, or a comma at the end?)".into(),
        ));
    }
    let (name, args) = match text.find('(') {
        None => (text, vec![]),
        Some(open) => {
            let Some(inner) = text[open + 1..].trim_end().strip_suffix(')') else {
                return Err(err("text after ')'".into()));
            };
            if inner.contains('(') {
                return Err(err("unexpected '(' inside the arguments".into()));
            }
            let args: Vec<&str> = match inner.trim() {
                "" => vec![],
                _ => inner.split(',').map(str::trim).collect(),
            };
            if args.iter().any(|a| a.is_empty()) {
                return Err(err("an argument is empty".into()));
            }
            (&text[..open], args)
        }
    };
    let name = name.trim().to_ascii_lowercase();
    let matched = |sig: &Signature| match_args(&args, sig, position, text);
    let no_args = || {
        if args.is_empty() {
            Ok(())
        } else {
            Err(err(format!("{name} takes no arguments")))
        }
    };
    let activation = |activation| LayerSpec::Activation { activation };
    Ok(match name.as_str() {
        "conv2d" => {
            let a = matched(&CONV2D)?;
            LayerSpec::Conv2d {
                in_channels: 0,
                out_channels: a.count(0, "OUT")?.unwrap_or(1),
                kernel: a.size(1, "K", 1)?.unwrap_or([1, 1]),
                stride: a.size(2, "stride", 1)?.unwrap_or([1, 1]),
                padding: a.size(3, "padding", 0)?.unwrap_or([0, 0]),
                bias: a.flag(4, "bias")?.unwrap_or(true),
            }
        }
        "maxpool2d" | "avgpool2d" => {
            let a = matched(&POOL[usize::from(name == "avgpool2d")])?;
            let kernel = a.size(0, "K", 1)?.unwrap_or([1, 1]);
            let stride = a.size(1, "stride", 1)?.unwrap_or(kernel);
            match name.as_str() {
                "maxpool2d" => LayerSpec::MaxPool2d { kernel, stride },
                _ => LayerSpec::AvgPool2d { kernel, stride },
            }
        }
        "linear" => LayerSpec::Linear {
            in_features: 0,
            out_features: matched(&LINEAR)?.count(0, "OUT")?.unwrap_or(0),
        },
        "dropout" => LayerSpec::Dropout {
            p: matched(&DROPOUT)?.number(0, "P")?.unwrap_or(0.5),
        },
        "leaky_relu" => activation(Activation::LeakyRelu {
            alpha: matched(&LEAKY_RELU)?.number(0, "ALPHA")?.unwrap_or(0.01),
        }),
        "relu" | "tanh" | "sigmoid" => {
            no_args()?;
            activation(Activation::from_name(&name)?)
        }
        "batchnorm" => {
            no_args()?;
            let d = BatchNormConfig::new(0);
            LayerSpec::BatchNorm {
                channels: d.channels,
                eps: d.eps,
                momentum: d.momentum,
            }
        }
        "flatten" => {
            no_args()?;
            LayerSpec::Flatten
        }
        other => {
            return Err(err(format!(
                "unknown layer '{other}'; the layers are {NAMES}"
            )))
        }
    })
}

impl Architecture {
    /// Parse an architecture string (see [`Architecture`] for the syntax); an error
    /// ([`Error::Architecture`]) names the first layer that does not parse.
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(Error::param(
                "architecture",
                "no layers (expected e.g. \"conv2d(32, 3), relu, flatten, linear\")",
            ));
        }
        let layers = split_layers(text)?
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let text = t.trim();
                parse_layer(text, i + 1).map(|spec| Layer {
                    text: text.to_string(),
                    spec,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Architecture { layers })
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there is no layer (never, for a parsed architecture).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layers for rows of `input_shape` (`[features]`, or `[channels, height, width]`)
    /// and a task of `outputs` outputs: the input channels and features each layer gets, the
    /// last linear's OUT when it is left out, and a check that the network's output is
    /// `[outputs]`.
    ///
    /// An error ([`Error::Architecture`]) names the first layer that cannot take the shape
    /// that reaches it, with that shape: a window larger than the map, a 2-D layer after
    /// `flatten`, `linear` on a map (add `flatten`), an output that is not `outputs` values.
    pub fn resolve(&self, input_shape: &[usize], outputs: usize) -> Result<Vec<LayerSpec>> {
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Err(Error::param(
                "input shape",
                format!("{input_shape:?}: every dimension must be at least 1"),
            ));
        }
        if outputs == 0 {
            return Err(Error::param(
                "outputs",
                "the task needs at least one output",
            ));
        }
        let last_linear = self
            .layers
            .iter()
            .rposition(|l| matches!(l.spec, LayerSpec::Linear { .. }));
        let mut shape = input_shape.to_vec();
        // The layer that made the current shape, for messages ("after flatten").
        let mut made_by: Option<&str> = None;
        let mut specs = Vec::with_capacity(self.layers.len());
        let mut rng = Rng::new(0);
        for (i, layer) in self.layers.iter().enumerate() {
            let position = i + 1;
            let err = |msg: String| layer_err(position, &layer.text, Some(&shape), msg);
            let image = |kind: &str| match &shape[..] {
                &[c, h, w] => Ok((c, h, w)),
                _ => Err(err(format!(
                    "input {} is not a channels×height×width map, which {kind} needs{}",
                    shape_text(&shape),
                    match made_by {
                        Some(m) => format!(" (it comes after '{m}')"),
                        None => format!(
                            " (the input rows are {}-D; give them an image shape)",
                            shape.len()
                        ),
                    }
                ))),
            };
            let window = |kind: &str, h: usize, w: usize, k: [usize; 2]| {
                if h < k[0] || w < k[1] {
                    return Err(err(format!(
                        "input {} is smaller than the {} {kind}",
                        shape_text(&shape),
                        shape_text(&k)
                    )));
                }
                Ok(())
            };
            let mut spec = layer.spec.clone();
            match &mut spec {
                LayerSpec::Conv2d {
                    in_channels,
                    kernel,
                    padding,
                    ..
                } => {
                    let (c, h, w) = image("conv2d")?;
                    let padded =
                        |n: usize, p: usize| p.checked_mul(2).and_then(|p| p.checked_add(n));
                    let (Some(hp), Some(wp)) = (padded(h, padding[0]), padded(w, padding[1]))
                    else {
                        return Err(err(format!("padding {} is too large", shape_text(padding))));
                    };
                    if *padding != [0, 0] && (hp < kernel[0] || wp < kernel[1]) {
                        return Err(err(format!(
                            "input {} (padded {}) is smaller than the {} kernel",
                            shape_text(&shape),
                            shape_text(&[c, hp, wp]),
                            shape_text(kernel)
                        )));
                    }
                    window("kernel", hp, wp, *kernel)?;
                    *in_channels = c;
                }
                LayerSpec::MaxPool2d { kernel, .. } | LayerSpec::AvgPool2d { kernel, .. } => {
                    let (_, h, w) = image(layer.spec.kind())?;
                    window("window", h, w, *kernel)?;
                }
                LayerSpec::BatchNorm { channels, .. } => *channels = shape[0],
                LayerSpec::Linear {
                    in_features,
                    out_features,
                } => {
                    let &[features] = &shape[..] else {
                        return Err(err(format!(
                            "input {} is a map, but linear takes flat rows: add flatten before it",
                            shape_text(&shape)
                        )));
                    };
                    *in_features = features;
                    if *out_features == 0 {
                        if last_linear != Some(i) {
                            return Err(err(
                                "only the last linear may leave out OUT (the task sets it); \
                                 write linear(OUT)"
                                    .into(),
                            ));
                        }
                        *out_features = outputs;
                    }
                }
                _ => {}
            }
            // A layer too large to hold is refused before anything is allocated, its weights
            // and the values it makes of one row alike (a typo such as linear(44474444)).
            let weights = match &spec {
                LayerSpec::Conv2d {
                    in_channels,
                    out_channels,
                    kernel,
                    ..
                } => [*out_channels, *in_channels, kernel[0], kernel[1]]
                    .into_iter()
                    .try_fold(1usize, usize::checked_mul),
                LayerSpec::Linear {
                    in_features,
                    out_features,
                } => in_features.checked_mul(*out_features),
                _ => Some(0),
            };
            if weights.is_none_or(|n| n > MAX_LAYER_VALUES) {
                return Err(err(format!(
                    "the layer would hold {} weights, more than the {MAX_LAYER_VALUES} a layer \
                     may hold",
                    weights.map_or("too many".to_string(), |n| n.to_string())
                )));
            }
            // The layer itself checks its settings and says what it makes of the shape: a
            // convolution from its settings alone; a linear built with one input and one output
            // feature, a batchnorm with one channel (the same checks, with nothing of their
            // size allocated), whose outputs are then [OUT] and the input shape.
            let made = match Conv2dConfig::from_spec(&spec, Init::Zeros) {
                Some(conv) => conv.output_shape(&shape),
                None => {
                    let (probe, input) = match &spec {
                        LayerSpec::Linear { .. } => (
                            LayerSpec::Linear {
                                in_features: 1,
                                out_features: 1,
                            },
                            vec![1],
                        ),
                        LayerSpec::BatchNorm { eps, momentum, .. } => {
                            let mut input = shape.clone();
                            input[0] = 1;
                            let one = LayerSpec::BatchNorm {
                                channels: 1,
                                eps: *eps,
                                momentum: *momentum,
                            };
                            (one, input)
                        }
                        _ => (spec.clone(), shape.clone()),
                    };
                    let mut ctx = BuildContext {
                        init: Init::Zeros,
                        rng: &mut rng,
                        seed: 0,
                    };
                    build_layer::<f32>(&probe, &mut ctx)
                        .and_then(|module| module.output_shape(&input))
                        .map(|made| match &spec {
                            LayerSpec::Linear { out_features, .. } => vec![*out_features],
                            LayerSpec::BatchNorm { .. } => shape.clone(),
                            _ => made,
                        })
                }
            };
            let made = made.map_err(|e| err(e.to_string()))?;
            let values = made.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            if values.is_none_or(|n| n > MAX_LAYER_VALUES) {
                return Err(err(format!(
                    "the layer would make {} values of each row, more than the \
                     {MAX_LAYER_VALUES} a layer may make",
                    values.map_or("too many".to_string(), |n| n.to_string())
                )));
            }
            shape = made;
            made_by = Some(&layer.text);
            specs.push(spec);
        }
        if shape != [outputs] {
            let (position, text) = (self.layers.len(), made_by.unwrap_or_default());
            let hint = match shape.len() {
                1 => "end with linear (the task then sets its size)",
                _ => "end with flatten, linear",
            };
            return Err(layer_err(
                position,
                text,
                Some(&shape),
                format!(
                    "the network's output is {}, but the task needs {outputs} output{}: {hint}",
                    shape_text(&shape),
                    if outputs == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(specs)
    }
}

impl FromStr for Architecture {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Architecture::parse(text)
    }
}

impl fmt::Display for Architecture {
    /// The layers as written, joined by `, `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<&str> = self.layers.iter().map(|l| l.text.as_str()).collect();
        f.write_str(&texts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Sequential;

    fn resolve(text: &str, input: &[usize], outputs: usize) -> Result<Vec<LayerSpec>> {
        Architecture::parse(text)?.resolve(input, outputs)
    }

    /// Resolving only works out shapes: a layer just under the size limit (3.6 GB of weights
    /// here) resolves without its weights being made, and one over it, or one whose sizes
    /// overflow (found by the arch fuzzer), is an error naming the layer, before anything is
    /// allocated.
    #[test]
    fn huge_layers_resolve_unallocated_up_to_the_limit_and_are_refused_past_it() {
        let specs = resolve(
            "conv2d(1, 30000x30000, padding=15000), flatten, linear",
            &[1, 3, 3],
            2,
        )
        .unwrap();
        assert!(matches!(
            specs[0],
            LayerSpec::Conv2d {
                in_channels: 1,
                kernel: [30000, 30000],
                ..
            }
        ));
        assert_eq!(
            specs[2],
            LayerSpec::Linear {
                in_features: 16,
                out_features: 2
            }
        );
        let refused = [
            (
                "conv2d(4000000000, 2), flatten, linear",
                "layer 1 'conv2d(4000000000, 2)'",
                "would hold 16000000000 weights",
            ),
            (
                "flatten, linear(3000000000), linear",
                "layer 2 'linear(3000000000)'",
                "would hold 27000000000 weights",
            ),
            (
                "conv2d(2000000000, 1, stride=3), batchnorm, flatten, linear",
                "layer 4 'linear'",
                "would hold 4000000000 weights",
            ),
            (
                "conv2d(1, 1, padding=40000), flatten, linear",
                "layer 1",
                "would make 6400480009 values of each row",
            ),
            (
                "conv2d(4294967296, 4294967296x2, padding=2147483648), flatten, linear",
                "layer 1",
                "would hold too many weights",
            ),
        ];
        for (text, layer, what) in refused {
            let e = resolve(text, &[1, 3, 3], 2).unwrap_err().to_string();
            assert!(e.contains(layer) && e.contains(what), "{text}: {e}");
            assert!(e.contains(&MAX_LAYER_VALUES.to_string()), "{text}: {e}");
        }
        let text = "conv2d(2, 3x3, padding=18446744073709551615), flatten, linear";
        let e = resolve(text, &[1, 3, 3], 2).unwrap_err().to_string();
        assert!(e.contains("layer 1") && e.contains("is too large"), "{e}");
    }

    #[test]
    fn the_pytorch_mnist_network_resolves_with_every_size_inferred() {
        let specs = resolve(
            "conv2d(32,3), relu, conv2d(64,3), relu, maxpool2d(2), flatten, linear(128), relu, linear",
            &[1, 28, 28],
            10,
        )
        .unwrap();
        let relu = LayerSpec::Activation {
            activation: Activation::Relu,
        };
        let conv = |i, o| LayerSpec::Conv2d {
            in_channels: i,
            out_channels: o,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [0, 0],
            bias: true,
        };
        assert_eq!(
            specs,
            [
                conv(1, 32),
                relu.clone(),
                conv(32, 64),
                relu.clone(),
                LayerSpec::MaxPool2d {
                    kernel: [2, 2],
                    stride: [2, 2]
                },
                LayerSpec::Flatten,
                LayerSpec::Linear {
                    in_features: 64 * 12 * 12,
                    out_features: 128
                },
                relu,
                LayerSpec::Linear {
                    in_features: 128,
                    out_features: 10
                },
            ]
        );
    }

    #[test]
    fn whitespace_case_rectangles_keywords_and_positions() {
        let a = resolve(
            " Conv2d( 6 , 3x5 , stride = 2x1, padding=1, bias=FALSE ) ,BatchNorm, leaky_relu(0.1),\
             avgpool2d(2, stride=1), maxpool2d(1x2), flatten, dropout(0.25), linear ( 7 ), tanh,\
             linear(3), sigmoid",
            &[2, 9, 9],
            3,
        )
        .unwrap();
        // (9 + 2 − 3)/2 + 1 = 5 rows, (9 + 2 − 5)/1 + 1 = 7 columns; avg 2×2 stride 1: 4×6;
        // max 1×2 (stride 1×2): 4×3.
        assert_eq!(
            a[0],
            LayerSpec::Conv2d {
                in_channels: 2,
                out_channels: 6,
                kernel: [3, 5],
                stride: [2, 1],
                padding: [1, 1],
                bias: false,
            }
        );
        assert_eq!(
            a[1],
            LayerSpec::BatchNorm {
                channels: 6,
                eps: 1e-5,
                momentum: 0.1
            }
        );
        assert_eq!(
            a[2],
            LayerSpec::Activation {
                activation: Activation::LeakyRelu { alpha: 0.1 }
            }
        );
        assert_eq!(
            a[4],
            LayerSpec::MaxPool2d {
                kernel: [1, 2],
                stride: [1, 2]
            }
        );
        assert_eq!(
            a[7],
            LayerSpec::Linear {
                in_features: 6 * 4 * 3,
                out_features: 7
            }
        );
        assert_eq!(a[6], LayerSpec::Dropout { p: 0.25 });
        // Positional stride and padding, as in PyTorch; defaults of leaky_relu and dropout.
        assert_eq!(
            resolve("conv2d(4, 3, 1, 1), flatten, linear", &[1, 5, 5], 2).unwrap(),
            resolve(
                "conv2d(4, 3, padding=1, stride=1), flatten, linear(2)",
                &[1, 5, 5],
                2
            )
            .unwrap()
        );
        let d = resolve("linear(4), leaky_relu(), dropout, linear", &[3], 1).unwrap();
        assert_eq!(
            d[1].activation(),
            Some(Activation::LeakyRelu { alpha: 0.01 })
        );
        assert_eq!(d[2], LayerSpec::Dropout { p: 0.5 });
        // Dense rows, batchnorm over features.
        let m = resolve("batchnorm, linear(8), relu, linear", &[4], 3).unwrap();
        assert_eq!(m[0].describe(), "batchnorm(4)");
        assert_eq!(m[3].describe(), "linear(8 → 3)");
        let arch = Architecture::parse("linear(8) , relu,linear").unwrap();
        assert_eq!(
            (arch.to_string(), arch.len()),
            ("linear(8), relu, linear".into(), 3)
        );
    }

    /// Each case's text, its input shape and the start of its error: position, layer, message.
    fn each_fails(cases: &[(&str, &[usize], &str)], shape_error: bool) {
        for &(text, input, want) in cases {
            match resolve(text, input, 10) {
                Err(e @ Error::Architecture { .. }) => {
                    let got = e.to_string();
                    assert!(got.starts_with(want), "{text}:\n got  {got}\n want {want}");
                    let Error::Architecture { shape, .. } = e else {
                        unreachable!()
                    };
                    assert_eq!(shape.is_some(), shape_error, "{text}: {shape:?}");
                }
                other => panic!("{text}: expected an architecture error, got {other:?}"),
            }
        }
    }

    /// [`each_fails`] of parse errors (no shape) on 1×8×8 inputs.
    fn syntax_fails(cases: &[(&str, &str)]) {
        let map: &[usize] = &[1, 8, 8];
        let cases: Vec<_> = cases
            .iter()
            .map(|&(text, want)| (text, map, want))
            .collect();
        each_fails(&cases, false);
    }

    #[test]
    fn syntax_errors_name_the_layer_its_position_and_what_it_takes() {
        syntax_fails(&[
            ("relu, linear(4), conv2d(64)", "layer 3 'conv2d(64)': conv2d takes (OUT, K[, stride=S][, padding=P][, bias=false])"),
            ("conv2d(4, 3, 1, 1, 1)", "layer 1 'conv2d(4, 3, 1, 1, 1)': bias '1' is not true or false"),
            ("conv2d(4, 3, 1, 1, true, 1)", "layer 1 'conv2d(4, 3, 1, 1, true, 1)': conv2d takes"),
            ("conv2d(4, k=3)", "layer 1 'conv2d(4, k=3)': unknown argument 'k'; conv2d takes"),
            ("conv2d(4, 3, stride=1, stride=2)", "layer 1 'conv2d(4, 3, stride=1, stride=2)': stride is given twice"),
            ("conv2d(4, stride=2, 3)", "layer 1 'conv2d(4, stride=2, 3)': conv2d takes"),
            ("conv2d(0, 3)", "layer 1 'conv2d(0, 3)': OUT '0' is not a whole number of at least 1"),
            ("conv2d(4, 3x)", "layer 1 'conv2d(4, 3x)': K '3x' is not a size: expected a whole number of at least 1, or HxW"),
            ("conv2d(4, 3x3x3)", "layer 1 'conv2d(4, 3x3x3)': K '3x3x3' is not a size"),
            ("conv2d(4, 3, padding=-1)", "layer 1 'conv2d(4, 3, padding=-1)': padding '-1' is not a size: expected a whole number of at least 0"),
            ("maxpool2d(2, stride=0)", "layer 1 'maxpool2d(2, stride=0)': stride '0' is not a size"),
            ("maxpool2d()", "layer 1 'maxpool2d()': maxpool2d takes (K[, stride=S])"),
            ("avgpool2d(2, padding=1)", "layer 1 'avgpool2d(2, padding=1)': unknown argument 'padding'"),
            ("linear(4, 5)", "layer 1 'linear(4, 5)': linear takes (OUT)"),
            ("linear(x)", "layer 1 'linear(x)': OUT 'x' is not a whole number"),
            ("relu(1)", "layer 1 'relu(1)': relu takes no arguments"),
            ("flatten, batchnorm(3)", "layer 2 'batchnorm(3)': batchnorm takes no arguments"),
            ("dropout(half)", "layer 1 'dropout(half)': P 'half' is not a number"),
            ("leaky_relu(0.1, 2)", "layer 1 'leaky_relu(0.1, 2)': leaky_relu takes (ALPHA)"),
            ("relu, conv(4, 3)", "layer 2 'conv(4, 3)': unknown layer 'conv'; the layers are conv2d,"),
            ("relu,, tanh", "layer 2 '': no layer here"),
            ("relu, tanh,", "layer 3 '': no layer here"),
            ("relu, conv2d(4, 3", "layer 2 'conv2d(4, 3': missing ')'"),
            ("relu, tanh), sigmoid", "layer 2 'tanh)': unexpected ')'"),
            ("conv2d(4, (3))", "layer 1 'conv2d(4, (3))': unexpected '('"),
            ("relu(), flatten() x", "layer 2 'flatten() x': text after ')'"),
            ("linear(4,)", "layer 1 'linear(4,)': an argument is empty"),
        ]);
        let e = Architecture::parse(" ").unwrap_err();
        assert!(matches!(e, Error::Param { .. }), "{e}");
    }

    #[test]
    fn values_out_of_range_are_the_layers_own_errors_with_the_position() {
        each_fails(
            &[
                (
                    "linear(4), dropout(1.5), linear",
                    &[3],
                    "layer 2 'dropout(1.5)': invalid dropout: 1.5 is outside [0, 1)",
                ),
                (
                    "flatten, leaky_relu(2), linear",
                    &[3],
                    "layer 2 'leaky_relu(2)': invalid leaky_relu alpha: 2 is outside [0, 1)",
                ),
            ],
            true,
        );
    }

    #[test]
    fn shapes_that_cannot_work_are_reported_at_their_layer_with_the_shapes() {
        let x: &[usize] = &[1, 8, 8];
        each_fails(
            &[
                ("conv2d(64, 3), relu, maxpool2d(2), maxpool2d(2), maxpool2d(2), flatten, linear", x, "layer 5 'maxpool2d(2)': input 64×1×1 is smaller than the 2×2 window"),
                ("conv2d(4, 9)", x, "layer 1 'conv2d(4, 9)': input 1×8×8 is smaller than the 9×9 kernel"),
                ("conv2d(4, 11, padding=1)", x, "layer 1 'conv2d(4, 11, padding=1)': input 1×8×8 (padded 1×10×10) is smaller than the 11×11 kernel"),
                ("avgpool2d(3x9)", x, "layer 1 'avgpool2d(3x9)': input 1×8×8 is smaller than the 3×9 window"),
                ("flatten, conv2d(4, 3)", x, "layer 2 'conv2d(4, 3)': input 64 is not a channels×height×width map, which conv2d needs (it comes after 'flatten')"),
                ("maxpool2d(2)", &[64], "layer 1 'maxpool2d(2)': input 64 is not a channels×height×width map, which maxpool2d needs (the input rows are 1-D"),
                ("conv2d(4, 3), relu, linear", x, "layer 3 'linear': input 4×6×6 is a map, but linear takes flat rows: add flatten before it"),
                ("linear, relu, linear", &[4], "layer 1 'linear': only the last linear may leave out OUT"),
                ("conv2d(4, 3), flatten", x, "layer 2 'flatten': the network's output is 144, but the task needs 10 outputs: end with linear"),
                ("conv2d(10, 8)", x, "layer 1 'conv2d(10, 8)': the network's output is 10×1×1, but the task needs 10 outputs: end with flatten, linear"),
                ("linear(5), relu", &[4], "layer 2 'relu': the network's output is 5, but the task needs 10 outputs"),
            ],
            true,
        );
        let e = resolve(
            "maxpool2d(2), maxpool2d(2), maxpool2d(2), maxpool2d(2)",
            x,
            1,
        );
        match e {
            Err(Error::Architecture { shape, .. }) => assert_eq!(shape, Some(vec![1, 1, 1])),
            other => panic!("{other:?}"),
        }
        assert!(matches!(resolve("relu", &[], 1), Err(Error::Param { .. })));
        assert!(matches!(
            resolve("linear", &[3], 0),
            Err(Error::Param { .. })
        ));
    }

    #[test]
    fn torch_init_draws_conv_weights_and_biases_from_kaiming_uniform_with_a_sqrt5() {
        // PyTorch's Conv2d default: kaiming_uniform_(a=√5), bound √(6/((1 + 5)·fan_in)) =
        // 1/√fan_in with fan_in = in·kh·kw; the bias U(±1/√fan_in) too.
        let specs = resolve("conv2d(64, 3x3), flatten, linear", &[8, 5, 5], 2).unwrap();
        let net =
            Sequential::<f32>::from_specs(&[8, 5, 5], &specs, Some(Init::TorchDefault), 3).unwrap();
        let state = net.state_dict();
        let bound = 1.0 / ((8 * 3 * 3) as f32).sqrt();
        for name in ["0.weight", "0.bias"] {
            let (_, t) = state.iter().find(|(n, _)| n == name).unwrap();
            let v = t.data();
            assert!(v.iter().all(|x| x.abs() <= bound), "{name}");
            let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(max > 0.8 * bound, "{name}: {max} vs {bound}");
        }
        let (_, w) = &state[0];
        let n = w.len() as f64;
        let var = w.data().iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n;
        let want = (bound as f64).powi(2) / 3.0;
        assert!((var / want - 1.0).abs() < 0.1, "variance {var} vs {want}");
        // The same seed draws the same network.
        let again =
            Sequential::<f32>::from_specs(&[8, 5, 5], &specs, Some(Init::TorchDefault), 3).unwrap();
        assert_eq!(again.state_dict(), state);
    }
}

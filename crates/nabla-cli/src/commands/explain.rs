//! `nabla explain [--model MODEL --data SOURCE --row N] --param NAME[i,j] [--json]`: one
//! example through the network, and ∂E/∂(one weight or bias) as the chain-rule product along
//! every path from the parameter to the loss, summed over paths, next to the gradient of the
//! engine's backward pass. The numbers come from [`nabla::train::explain`]; this module parses
//! the flags, loads the example and prints.

use std::path::{Path, PathBuf};

use nabla::data::Target;
use nabla::nn::Sequential;
use nabla::train::explain::{
    activation_symbol, derivative_formula, explain, ChainRule, Example, Expected, Explanation,
    Factor, FactorKind, NeuronLayer, ParamRef,
};
use serde_json::{json, Value};

use super::{json_number, print_json, CliError};
use crate::pipeline::load_row;

/// Explain the gradient of the loss with respect to one weight or bias, path by path.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A model file saved by `nabla train`; without it, the two-neuron cascade of the textbook
    /// (x = 1.5, w1 = 0.8, b1 = 0.1, w2 = −1.2, b2 = 0.3, t = 1, E = ½(t − a2)²).
    #[arg(long, requires_all = ["data", "row"])]
    pub model: Option<PathBuf>,
    /// The data source of the example (a CSV path, builtin:NAME, mnist:DIR).
    #[arg(long, requires = "model")]
    pub data: Option<String>,
    /// The 0-based row of the example in the data.
    #[arg(long, requires = "model")]
    pub row: Option<usize>,
    /// The parameter: `L.weight[i,j]` (from input j to neuron i of the linear layer at module
    /// index L) or `L.bias[i]`; for the textbook cascade also w1, b1, w2, b2. Default: w1
    /// without a model.
    #[arg(long, value_name = "NAME")]
    pub param: Option<String>,
    /// Print JSON: forward values, paths (factors and product), total, autograd, difference.
    #[arg(long)]
    pub json: bool,
}

/// A model, one row of data as an example, and the names of its inputs.
pub struct LoadedExample {
    pub net: Sequential,
    pub example: Example,
    pub input_names: Vec<String>,
}

/// Row `row` (0-based) of `data` for the model at `model`: the row standardised as at training
/// time, its target (a regression target standardised with the model's target scaler), and
/// the model's loss.
pub fn load_example(model: &Path, data: &str, row: usize) -> Result<LoadedExample, CliError> {
    let (net, meta, _) =
        nabla::io::load_model(model).map_err(|e| CliError::failure(e.to_string()))?;
    let (ds, x) = load_row(data, None, &meta, true, row)?;
    let expected = match &ds.target {
        Target::Classes { labels, .. } => Expected::Class(labels[row] as usize),
        Target::Values { values, names } => {
            let k = names.len().max(1);
            Expected::Values(
                values[row * k..(row + 1) * k]
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
            )
        }
        Target::None => {
            return Err(CliError::failure(
                "the data has no target column; explain needs the row's target",
            ))
        }
    };
    Ok(LoadedExample {
        net,
        example: Example {
            input: x.iter().map(|&v| v as f64).collect(),
            expected,
            loss: meta.loss.into(),
        },
        input_names: ds.feature_names.clone(),
    })
}

/// Parses `L.weight[i,j]`, `L.bias[i]`, and in textbook mode `w1 b1 w2 b2`; checks ranges.
pub fn parse_param(
    text: &str,
    layers: &[NeuronLayer],
    textbook: bool,
) -> Result<(ParamRef, String), CliError> {
    let names = || {
        layers
            .iter()
            .map(|l| {
                format!(
                    "{0}.weight[0..{1},0..{2}], {0}.bias[0..{1}]",
                    l.module,
                    l.outputs(),
                    l.inputs
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bad = |why: String| {
        CliError::usage(format!(
            "--param {text}: {why} (parameters: {}{})",
            names(),
            if textbook { "; or w1, b1, w2, b2" } else { "" }
        ))
    };
    let trimmed = text.trim();
    if textbook {
        let alias = match trimmed {
            "w1" => Some(ParamRef {
                layer: 0,
                neuron: 0,
                input: Some(0),
            }),
            "b1" => Some(ParamRef {
                layer: 0,
                neuron: 0,
                input: None,
            }),
            "w2" => Some(ParamRef {
                layer: 1,
                neuron: 0,
                input: Some(0),
            }),
            "b2" => Some(ParamRef {
                layer: 1,
                neuron: 0,
                input: None,
            }),
            _ => None,
        };
        if let Some(p) = alias {
            return Ok((p, trimmed.to_string()));
        }
    }
    let Some((module, rest)) = trimmed.split_once('.') else {
        return Err(bad("expected L.weight[i,j] or L.bias[i]".into()));
    };
    let module: usize = module
        .parse()
        .map_err(|_| bad(format!("'{module}' is not a module index")))?;
    let Some(layer) = layers.iter().position(|l| l.module == module) else {
        return Err(bad(format!("module {module} is not a linear layer")));
    };
    let (kind, index) = match rest.split_once('[') {
        Some((k, idx)) if idx.ends_with(']') => (k, &idx[..idx.len() - 1]),
        _ => {
            return Err(bad(
                "expected an index in brackets, e.g. 0.weight[3,5] or 2.bias[1]".into(),
            ))
        }
    };
    let indices: Vec<usize> = index
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad(format!("'[{index}]' is not a list of indices")))?;
    let (out, inp) = (layers[layer].outputs(), layers[layer].inputs);
    let p = match (kind, indices.as_slice()) {
        ("weight", [i, j]) if *i < out && *j < inp => ParamRef {
            layer,
            neuron: *i,
            input: Some(*j),
        },
        ("bias", [i]) if *i < out => ParamRef {
            layer,
            neuron: *i,
            input: None,
        },
        ("weight", [_, _]) | ("bias", [_]) => return Err(bad("index out of range".into())),
        ("weight", _) => return Err(bad("a weight takes two indices [i,j]".into())),
        ("bias", _) => return Err(bad("a bias takes one index [i]".into())),
        _ => return Err(bad(format!("'{kind}' is neither weight nor bias"))),
    };
    Ok((p, trimmed.to_string()))
}

/// Names of neurons, inputs and outputs in the printout.
pub struct Names {
    textbook: bool,
    inputs: Vec<String>,
}

impl Names {
    fn z(&self, l: usize, i: usize) -> String {
        if self.textbook {
            format!("z{}", l + 1)
        } else {
            format!("z{}[{i}]", l + 1)
        }
    }
    fn a(&self, l: usize, i: usize) -> String {
        if self.textbook {
            format!("a{}", l + 1)
        } else {
            format!("a{}[{i}]", l + 1)
        }
    }
    fn w(&self, l: usize, i: usize, j: usize, module: usize) -> String {
        if self.textbook {
            format!("w{}", l + 1)
        } else {
            format!("{module}.weight[{i},{j}]")
        }
    }
    fn input(&self, j: usize) -> String {
        if self.textbook {
            "x".into()
        } else {
            match self.inputs.get(j) {
                Some(n) if !n.is_empty() => format!("x[{j}] ({n})"),
                _ => format!("x[{j}]"),
            }
        }
    }

    /// The printed name of one factor of a path product.
    fn factor(&self, e: &Explanation, f: &Factor) -> String {
        match f.kind {
            FactorKind::Input {
                layer,
                neuron,
                input,
            } => {
                let name = if layer == 0 {
                    self.input(input)
                } else {
                    self.a(layer - 1, input)
                };
                format!("∂{}/∂w = {name}", self.z(layer, neuron))
            }
            FactorKind::Bias { layer, neuron } => format!("∂{}/∂b = 1", self.z(layer, neuron)),
            FactorKind::Activation { layer, neuron } => {
                let act = e.layers[layer].activation;
                format!(
                    "{}′({}) = {}",
                    activation_symbol(act),
                    self.z(layer, neuron),
                    derivative_formula(act)
                )
            }
            FactorKind::Weight {
                layer,
                neuron,
                input,
            } => format!(
                "∂{}/∂{} = {}",
                self.z(layer, neuron),
                self.a(layer - 1, input),
                self.w(layer, neuron, input, e.layers[layer].module)
            ),
            FactorKind::Loss { output } => {
                let loss_factor = if e.output().len() == 1 {
                    "∂E/∂y".to_string()
                } else {
                    format!("∂E/∂y[{output}]")
                };
                e.loss_kind
                    .gradient_formula()
                    .replace("∂E/∂y", &loss_factor)
            }
        }
    }

    /// The nodes a path passes, from the parameter's neuron to E.
    fn path_nodes(&self, chain: &ChainRule, neurons: &[usize]) -> Vec<String> {
        let mut nodes = vec![];
        for (offset, &k) in neurons.iter().enumerate() {
            nodes.push(self.z(chain.param.layer + offset, k));
            nodes.push(self.a(chain.param.layer + offset, k));
        }
        nodes.push("E".into());
        nodes
    }
}

fn failure(e: nabla::Error) -> CliError {
    CliError::failure(e.to_string())
}

/// Runs `nabla explain`.
pub fn run(args: Args) -> Result<(), CliError> {
    let textbook = args.model.is_none();
    let (e, input_names) = match (&args.model, &args.data, args.row) {
        (Some(model), Some(data), Some(row)) => {
            let loaded = load_example(model, data, row)?;
            (
                explain(&loaded.net, &loaded.example).map_err(failure)?,
                loaded.input_names,
            )
        }
        (None, None, None) => {
            let (net, example) = Example::textbook().map_err(failure)?;
            (explain(&net, &example).map_err(failure)?, vec!["x".into()])
        }
        _ => return Err(CliError::usage("--model, --data and --row go together")),
    };
    let param_text =
        match (&args.param, textbook) {
            (Some(p), _) => p.clone(),
            (None, true) => "w1".to_string(),
            (None, false) => return Err(CliError::usage(
                "--param is required with --model, e.g. --param 0.weight[3,5] or --param 2.bias[1]",
            )),
        };
    let (p, name) = parse_param(&param_text, &e.layers, textbook)?;
    let chain = e.chain_rule(p).map_err(failure)?;
    let names = Names {
        textbook,
        inputs: input_names,
    };
    if args.json {
        return print_json(&to_json(&e, &chain, &name, &names));
    }
    print!(
        "{}",
        render_text(
            &e,
            &chain,
            &name,
            &names,
            args.model.is_some().then(|| {
                format!(
                    "{} on row {} of {}",
                    args.model
                        .as_ref()
                        .map(|m| m.display().to_string())
                        .unwrap_or_default(),
                    args.row.unwrap_or(0),
                    args.data.clone().unwrap_or_default()
                )
            })
        )
    );
    Ok(())
}

fn fmt(v: f64) -> String {
    format!("{v:.10}")
}

/// The printout.
pub fn render_text(
    e: &Explanation,
    chain: &ChainRule,
    param_name: &str,
    names: &Names,
    source: Option<String>,
) -> String {
    let p = chain.param;
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "∂E/∂{param_name} for one example: {}",
        source.unwrap_or_else(|| {
            "the two-neuron cascade of the textbook, x → (w1, b1) → a1 → (w2, b2) → a2".into()
        })
    ));
    line(format!("{param_name} = {}", chain.value));
    line(String::new());
    line("forward pass".into());
    let shown = |n: usize| n.min(8);
    for j in 0..shown(e.input.len()) {
        line(format!("  {} = {}", names.input(j), fmt(e.input[j])));
    }
    if e.input.len() > 8 {
        line(format!("  … {} inputs in all", e.input.len()));
    }
    for (l, layer) in e.layers.iter().enumerate() {
        let width = layer.outputs();
        // Show the neurons on the parameter's paths first: all of them when few.
        let list: Vec<usize> = if width <= 8 {
            (0..width).collect()
        } else if l == p.layer {
            vec![p.neuron]
        } else {
            (0..8).collect()
        };
        for &i in &list {
            let prev = if l == 0 {
                "x".to_string()
            } else {
                format!("a{}", l)
            };
            line(format!(
                "  {} = w·{prev} + b = {:<16}  {} = {}({}) = {}",
                names.z(l, i),
                fmt(layer.z[i]),
                names.a(l, i),
                activation_symbol(layer.activation),
                names.z(l, i),
                fmt(layer.a[i])
            ));
        }
        if list.len() < width {
            line(format!("  … {width} neurons in layer {}", l + 1));
        }
    }
    let target = match &e.expected {
        Expected::Values(t) if t.len() == 1 => format!("t = {}", t[0]),
        Expected::Values(t) => format!("t = {t:?}"),
        Expected::Class(c) => format!("class c = {c}"),
    };
    line(format!("  {target}"));
    line(format!("  {} = {}", e.loss_kind.formula(), fmt(e.loss)));
    line(String::new());
    let last = e.layers.len() - 1;
    if chain.listed_all {
        line(format!(
            "chain rule: {} path{} from {param_name} to E",
            chain.path_count,
            if chain.path_count == 1 { "" } else { "s" },
        ));
    } else {
        line(format!(
            "chain rule: {} paths from {param_name} to E, too many to list; δ = ∂E/∂z layer by layer:",
            chain.path_count
        ));
        for l in (p.layer..=last).rev() {
            let layer = &e.layers[l];
            if l == last {
                line(format!(
                    "  δ{}[k] = ∂E/∂y[k] · {}′(z{}[k])",
                    l + 1,
                    activation_symbol(layer.activation),
                    l + 1
                ));
            } else {
                line(format!(
                    "  δ{}[k] = {}′(z{}[k]) · Σ_m w{}[m,k] δ{}[m]   (summed over the {} successors)",
                    l + 1,
                    activation_symbol(layer.activation),
                    l + 1,
                    l + 2,
                    l + 2,
                    e.layers[l + 1].outputs()
                ));
            }
            let list: Vec<String> = layer
                .delta
                .iter()
                .take(6)
                .enumerate()
                .map(|(k, d)| format!("δ{}[{k}] = {d:.6}", l + 1))
                .collect();
            let more = if layer.delta.len() > 6 { ", …" } else { "" };
            line(format!("    {}{more}", list.join(", ")));
        }
        let input = match p.input {
            Some(j) if p.layer == 0 => names.input(j),
            Some(j) => names.a(p.layer - 1, j),
            None => "1".into(),
        };
        line(format!(
            "  ∂E/∂{param_name} = δ{}[{}] · {input}",
            p.layer + 1,
            p.neuron
        ));
        if !chain.paths.is_empty() {
            line(format!("the {} largest paths:", chain.paths.len()));
        }
    }
    for (n, path) in chain.paths.iter().enumerate() {
        line(format!(
            "  path {}: {param_name} → {}",
            n + 1,
            names.path_nodes(chain, &path.neurons).join(" → ")
        ));
        for (k, f) in path.factors.iter().enumerate() {
            line(format!(
                "    {} {:<48} {}",
                if k == 0 { " " } else { "×" },
                names.factor(e, f),
                fmt(f.value)
            ));
        }
        line(format!("    = {:<48} {}", "", fmt(path.product)));
    }
    line(String::new());
    let how = if chain.listed_all && chain.path_count > 1 {
        "sum over paths"
    } else if chain.listed_all {
        "product along the path"
    } else {
        "sum over all paths"
    };
    line(format!("∂E/∂{param_name} ({how}) = {:.15e}", chain.total));
    line(format!(
        "∂E/∂{param_name} (autograd)       = {:.15e}",
        chain.gradient
    ));
    line(format!(
        "|difference| = {:.3e}",
        (chain.total - chain.gradient).abs()
    ));
    out
}

fn to_json(e: &Explanation, chain: &ChainRule, param_name: &str, names: &Names) -> Value {
    let p = chain.param;
    let nums = |v: &[f64]| Value::Array(v.iter().map(|&x| json_number(x)).collect());
    let layers: Vec<Value> = e
        .layers
        .iter()
        .map(|layer| {
            json!({
                "module": layer.module,
                "activation": layer.activation.name(),
                "z": nums(&layer.z),
                "a": nums(&layer.a),
                "delta": nums(&layer.delta),
            })
        })
        .collect();
    let target = match &e.expected {
        Expected::Values(t) => json!({ "values": nums(t) }),
        Expected::Class(c) => json!({ "class": c }),
    };
    let paths: Vec<Value> = chain
        .paths
        .iter()
        .map(|q| {
            json!({
                "nodes": names.path_nodes(chain, &q.neurons),
                "factors": q.factors.iter().map(|f| json!({"name": names.factor(e, f), "value": json_number(f.value)})).collect::<Vec<_>>(),
                "product": json_number(q.product),
            })
        })
        .collect();
    json!({
        "param": param_name,
        "layer": p.layer,
        "neuron": p.neuron,
        "input": p.input,
        "value": json_number(chain.value),
        "forward": {
            "input": nums(&e.input),
            "layers": layers,
            "target": target,
            "loss_kind": e.loss_kind.formula(),
            "loss": json_number(e.loss),
            "loss_gradient": nums(&e.loss_gradient),
        },
        "path_count": chain.path_count,
        "paths_listed": if chain.listed_all { "all" } else { "largest" },
        "paths": paths,
        "total": json_number(chain.total),
        "autograd": json_number(chain.gradient),
        "abs_difference": json_number((chain.total - chain.gradient).abs()),
    })
}

//! `nabla explain [--model MODEL --data SOURCE --row N] --param NAME[i,j] [--json]`: one
//! example through the network, and ∂E/∂(one weight or bias) as the chain-rule product along
//! every path from the parameter to the loss, summed over paths, next to autograd's value.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::{json_number, print_json, CliError};
use crate::dense::{activation_derivative, Example, Expected, Forward};

/// Paths are listed one by one up to this many; above it the δ recursion is printed instead,
/// with the largest paths.
pub const MAX_LISTED_PATHS: usize = 64;
/// Above this many paths the largest ones are not searched for.
const MAX_SEARCHED_PATHS: usize = 1_000_000;
/// How many of the largest paths to show when there are too many to list.
const TOP_PATHS: usize = 5;

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

/// Which parameter: layer position (among the linear layers), neuron, input (None for a bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamRef {
    pub layer: usize,
    pub neuron: usize,
    pub input: Option<usize>,
}

/// One factor of a chain-rule product.
#[derive(Clone, Debug, PartialEq)]
pub struct Factor {
    pub name: String,
    pub value: f64,
}

/// One path from the parameter to the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct PathProduct {
    /// Node names along the path, from the parameter's neuron to the output.
    pub nodes: Vec<String>,
    pub factors: Vec<Factor>,
    pub product: f64,
}

/// Everything `explain` prints.
#[derive(Clone, Debug)]
pub struct Explanation {
    pub param_name: String,
    pub param_value: f64,
    pub forward: Forward,
    /// δ[l][i] = ∂E/∂z of every neuron.
    pub delta: Vec<Vec<f64>>,
    pub path_count: usize,
    /// Every path when `path_count ≤ MAX_LISTED_PATHS`, else the largest few (may be empty
    /// when there are too many to search).
    pub paths: Vec<PathProduct>,
    pub listed_all: bool,
    /// Σ over paths (when listed) or δ·input (otherwise).
    pub total: f64,
    pub autograd: f64,
}

/// Parses `L.weight[i,j]`, `L.bias[i]`, and in textbook mode `w1 b1 w2 b2`; checks ranges.
pub fn parse_param(
    text: &str,
    ex: &Example,
    textbook: bool,
) -> Result<(ParamRef, String), CliError> {
    let names = || {
        ex.layers
            .iter()
            .map(|l| {
                format!(
                    "{0}.weight[0..{1},0..{2}], {0}.bias[0..{1}]",
                    l.module_index,
                    l.weight.len(),
                    l.weight[0].len()
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
    let Some(layer) = ex.layers.iter().position(|l| l.module_index == module) else {
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
    let l = &ex.layers[layer];
    let (out, inp) = (l.weight.len(), l.weight[0].len());
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
}

/// δ of every neuron: δ_L = ∂E/∂y ⊙ act′(z_L), δ_l[i] = act′(z_l[i]) Σ_k W_{l+1}[k][i] δ_{l+1}[k].
pub fn deltas(ex: &Example, fw: &Forward) -> Vec<Vec<f64>> {
    let n = ex.layers.len();
    let mut delta: Vec<Vec<f64>> = vec![vec![]; n];
    for l in (0..n).rev() {
        let layer = &ex.layers[l];
        delta[l] = (0..layer.bias.len())
            .map(|i| {
                let d = activation_derivative(layer.activation, fw.z[l][i], fw.a[l][i]);
                let upstream = if l + 1 == n {
                    fw.loss_gradient[i]
                } else {
                    let next = &ex.layers[l + 1];
                    (0..next.bias.len())
                        .map(|k| next.weight[k][i] * delta[l + 1][k])
                        .sum()
                };
                d * upstream
            })
            .collect();
    }
    delta
}

fn act_symbol(act: nabla::nn::Activation) -> &'static str {
    match act {
        nabla::nn::Activation::Identity => "id",
        nabla::nn::Activation::Sigmoid => "σ",
        nabla::nn::Activation::Tanh => "tanh",
        nabla::nn::Activation::Relu => "relu",
        nabla::nn::Activation::LeakyRelu { .. } => "leaky_relu",
    }
}

fn local_formula(act: nabla::nn::Activation) -> &'static str {
    match act {
        nabla::nn::Activation::Identity => " = 1",
        nabla::nn::Activation::Sigmoid => " = a(1 − a)",
        nabla::nn::Activation::Tanh => " = 1 − a²",
        nabla::nn::Activation::Relu => " = [z > 0]",
        nabla::nn::Activation::LeakyRelu { .. } => " = 1 if z > 0 else α",
    }
}

/// Calls `visit` with every path's choice of neuron in each layer after `p.layer`.
fn for_each_path(ex: &Example, p: ParamRef, mut visit: impl FnMut(&[usize])) {
    let widths: Vec<usize> = ex.layers[p.layer + 1..]
        .iter()
        .map(|l| l.bias.len())
        .collect();
    let mut choice = vec![0usize; widths.len()];
    loop {
        visit(&choice);
        // Odometer increment.
        let mut pos = widths.len();
        loop {
            if pos == 0 {
                return;
            }
            pos -= 1;
            choice[pos] += 1;
            if choice[pos] < widths[pos] {
                break;
            }
            choice[pos] = 0;
        }
    }
}

fn path_product(ex: &Example, fw: &Forward, p: ParamRef, choice: &[usize]) -> f64 {
    let first = p.input.map_or(1.0, |j| {
        if p.layer == 0 {
            ex.input[j]
        } else {
            fw.a[p.layer - 1][j]
        }
    });
    let l0 = &ex.layers[p.layer];
    let mut product = first
        * activation_derivative(
            l0.activation,
            fw.z[p.layer][p.neuron],
            fw.a[p.layer][p.neuron],
        );
    let mut prev = p.neuron;
    for (offset, &k) in choice.iter().enumerate() {
        let m = p.layer + 1 + offset;
        let layer = &ex.layers[m];
        product *=
            layer.weight[k][prev] * activation_derivative(layer.activation, fw.z[m][k], fw.a[m][k]);
        prev = k;
    }
    product * fw.loss_gradient[prev]
}

fn path_detail(
    ex: &Example,
    fw: &Forward,
    p: ParamRef,
    choice: &[usize],
    names: &Names,
) -> PathProduct {
    let mut factors = vec![];
    let mut nodes = vec![];
    match p.input {
        Some(j) => {
            let (name, value) = if p.layer == 0 {
                (names.input(j), ex.input[j])
            } else {
                (names.a(p.layer - 1, j), fw.a[p.layer - 1][j])
            };
            factors.push(Factor {
                name: format!("∂{}/∂w = {name}", names.z(p.layer, p.neuron)),
                value,
            });
        }
        None => factors.push(Factor {
            name: format!("∂{}/∂b = 1", names.z(p.layer, p.neuron)),
            value: 1.0,
        }),
    }
    let push_neuron = |m: usize, k: usize, factors: &mut Vec<Factor>, nodes: &mut Vec<String>| {
        let layer = &ex.layers[m];
        nodes.push(names.z(m, k));
        nodes.push(names.a(m, k));
        factors.push(Factor {
            name: format!(
                "{}′({}){}",
                act_symbol(layer.activation),
                names.z(m, k),
                local_formula(layer.activation)
            ),
            value: activation_derivative(layer.activation, fw.z[m][k], fw.a[m][k]),
        });
    };
    push_neuron(p.layer, p.neuron, &mut factors, &mut nodes);
    let mut prev = p.neuron;
    for (offset, &k) in choice.iter().enumerate() {
        let m = p.layer + 1 + offset;
        let layer = &ex.layers[m];
        factors.push(Factor {
            name: format!(
                "∂{}/∂{} = {}",
                names.z(m, k),
                names.a(m - 1, prev),
                names.w(m, k, prev, layer.module_index)
            ),
            value: layer.weight[k][prev],
        });
        push_neuron(m, k, &mut factors, &mut nodes);
        prev = k;
    }
    let loss_factor = if ex.layers.last().map_or(1, |l| l.bias.len()) == 1 {
        "∂E/∂y".to_string()
    } else {
        format!("∂E/∂y[{prev}]")
    };
    factors.push(Factor {
        name: ex.loss.gradient_formula().replace("∂E/∂y", &loss_factor),
        value: fw.loss_gradient[prev],
    });
    nodes.push("E".into());
    let product = factors.iter().map(|f| f.value).product();
    PathProduct {
        nodes,
        factors,
        product,
    }
}

/// Computes the explanation of ∂E/∂param for the example.
pub fn explain(
    ex: &Example,
    p: ParamRef,
    param_name: &str,
    textbook: bool,
) -> Result<Explanation, CliError> {
    let names = Names {
        textbook,
        inputs: ex.input_names.clone(),
    };
    let fw = ex.forward();
    let delta = deltas(ex, &fw);
    let path_count = ex.layers[p.layer + 1..]
        .iter()
        .try_fold(1usize, |acc, l| acc.checked_mul(l.bias.len()))
        .unwrap_or(usize::MAX);
    let listed_all = path_count <= MAX_LISTED_PATHS;
    let mut paths = vec![];
    let mut total;
    if listed_all {
        for_each_path(ex, p, |choice| {
            paths.push(path_detail(ex, &fw, p, choice, &names))
        });
        total = paths.iter().map(|q| q.product).sum();
    } else {
        let input = p.input.map_or(1.0, |j| {
            if p.layer == 0 {
                ex.input[j]
            } else {
                fw.a[p.layer - 1][j]
            }
        });
        total = delta[p.layer][p.neuron] * input;
        if path_count <= MAX_SEARCHED_PATHS {
            let mut best: Vec<(f64, Vec<usize>)> = vec![];
            let mut sum = 0.0;
            for_each_path(ex, p, |choice| {
                let v = path_product(ex, &fw, p, choice);
                sum += v;
                if best.len() < TOP_PATHS || v.abs() > best[best.len() - 1].0.abs() {
                    best.push((v, choice.to_vec()));
                    best.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
                    best.truncate(TOP_PATHS);
                }
            });
            total = sum;
            paths = best
                .iter()
                .map(|(_, c)| path_detail(ex, &fw, p, c, &names))
                .collect();
        }
    }
    let net = ex.autograd().map_err(CliError::failure)?;
    net.loss
        .backward()
        .map_err(|e| CliError::failure(format!("autograd: {e}")))?;
    let (w, b) = &net.params[p.layer];
    let (param_value, autograd) = match p.input {
        Some(j) => {
            let inp = ex.layers[p.layer].weight[0].len();
            let g = w
                .grad()
                .ok_or_else(|| CliError::failure("autograd gave no gradient"))?;
            (
                ex.layers[p.layer].weight[p.neuron][j],
                g.data()[p.neuron * inp + j],
            )
        }
        None => {
            let g = b
                .grad()
                .ok_or_else(|| CliError::failure("autograd gave no gradient"))?;
            (ex.layers[p.layer].bias[p.neuron], g.data()[p.neuron])
        }
    };
    Ok(Explanation {
        param_name: param_name.to_string(),
        param_value,
        forward: fw,
        delta,
        path_count,
        paths,
        listed_all,
        total,
        autograd,
    })
}

/// Runs `nabla explain`.
pub fn run(args: Args) -> Result<(), CliError> {
    let textbook = args.model.is_none();
    let ex = match (&args.model, &args.data, args.row) {
        (Some(model), Some(data), Some(row)) => {
            Example::from_model(model, data, row).map_err(CliError::failure)?
        }
        (None, None, None) => Example::textbook(),
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
    let (p, name) = parse_param(&param_text, &ex, textbook)?;
    let e = explain(&ex, p, &name, textbook)?;
    if args.json {
        return print_json(&to_json(&ex, &e, p));
    }
    print!(
        "{}",
        render_text(
            &ex,
            &e,
            p,
            textbook,
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
    ex: &Example,
    e: &Explanation,
    p: ParamRef,
    textbook: bool,
    source: Option<String>,
) -> String {
    let names = Names {
        textbook,
        inputs: ex.input_names.clone(),
    };
    let fw = &e.forward;
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "∂E/∂{} for one example: {}",
        e.param_name,
        source.unwrap_or_else(|| {
            "the two-neuron cascade of the textbook, x → (w1, b1) → a1 → (w2, b2) → a2".into()
        })
    ));
    line(format!("{} = {}", e.param_name, e.param_value));
    line(String::new());
    line("forward pass".into());
    let shown = |n: usize| n.min(8);
    for j in 0..shown(ex.input.len()) {
        line(format!("  {} = {}", names.input(j), fmt(ex.input[j])));
    }
    if ex.input.len() > 8 {
        line(format!("  … {} inputs in all", ex.input.len()));
    }
    for (l, layer) in ex.layers.iter().enumerate() {
        let width = layer.bias.len();
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
                fmt(fw.z[l][i]),
                names.a(l, i),
                act_symbol(layer.activation),
                names.z(l, i),
                fmt(fw.a[l][i])
            ));
        }
        if list.len() < width {
            line(format!("  … {width} neurons in layer {}", l + 1));
        }
    }
    let target = match &ex.expected {
        Expected::Values(t) if t.len() == 1 => format!("t = {}", t[0]),
        Expected::Values(t) => format!("t = {t:?}"),
        Expected::Class(c) => format!("class c = {c}"),
    };
    line(format!("  {target}"));
    line(format!("  {} = {}", ex.loss.formula(), fmt(fw.loss)));
    line(String::new());
    let last = ex.layers.len() - 1;
    if e.listed_all {
        line(format!(
            "chain rule: {} path{} from {} to E",
            e.path_count,
            if e.path_count == 1 { "" } else { "s" },
            e.param_name
        ));
    } else {
        line(format!(
            "chain rule: {} paths from {} to E, too many to list; δ = ∂E/∂z layer by layer:",
            e.path_count, e.param_name
        ));
        for l in (p.layer..=last).rev() {
            let layer = &ex.layers[l];
            if l == last {
                line(format!(
                    "  δ{}[k] = ∂E/∂y[k] · {}′(z{}[k])",
                    l + 1,
                    act_symbol(layer.activation),
                    l + 1
                ));
            } else {
                line(format!(
                    "  δ{}[k] = {}′(z{}[k]) · Σ_m w{}[m,k] δ{}[m]   (summed over the {} successors)",
                    l + 1,
                    act_symbol(layer.activation),
                    l + 1,
                    l + 2,
                    l + 2,
                    ex.layers[l + 1].bias.len()
                ));
            }
            let list: Vec<String> = e.delta[l]
                .iter()
                .take(6)
                .enumerate()
                .map(|(k, d)| format!("δ{}[{k}] = {d:.6}", l + 1))
                .collect();
            let more = if e.delta[l].len() > 6 { ", …" } else { "" };
            line(format!("    {}{more}", list.join(", ")));
        }
        let input = match p.input {
            Some(j) if p.layer == 0 => names.input(j),
            Some(j) => names.a(p.layer - 1, j),
            None => "1".into(),
        };
        line(format!(
            "  ∂E/∂{} = δ{}[{}] · {input}",
            e.param_name,
            p.layer + 1,
            p.neuron
        ));
        if !e.paths.is_empty() {
            line(format!("the {} largest paths:", e.paths.len()));
        }
    }
    for (n, path) in e.paths.iter().enumerate() {
        line(format!(
            "  path {}: {} → {}",
            n + 1,
            e.param_name,
            path.nodes.join(" → ")
        ));
        for (k, f) in path.factors.iter().enumerate() {
            line(format!(
                "    {} {:<48} {}",
                if k == 0 { " " } else { "×" },
                f.name,
                fmt(f.value)
            ));
        }
        line(format!("    = {:<48} {}", "", fmt(path.product)));
    }
    line(String::new());
    let how = if e.listed_all && e.path_count > 1 {
        "sum over paths"
    } else if e.listed_all {
        "product along the path"
    } else {
        "sum over all paths"
    };
    line(format!("∂E/∂{} ({how}) = {:.15e}", e.param_name, e.total));
    line(format!(
        "∂E/∂{} (autograd)       = {:.15e}",
        e.param_name, e.autograd
    ));
    line(format!(
        "|difference| = {:.3e}",
        (e.total - e.autograd).abs()
    ));
    out
}

fn to_json(ex: &Example, e: &Explanation, p: ParamRef) -> Value {
    let fw = &e.forward;
    let nums = |v: &[f64]| Value::Array(v.iter().map(|&x| json_number(x)).collect());
    let layers: Vec<Value> = ex
        .layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            json!({
                "module": layer.module_index,
                "activation": layer.activation.name(),
                "z": nums(&fw.z[l]),
                "a": nums(&fw.a[l]),
                "delta": nums(&e.delta[l]),
            })
        })
        .collect();
    let target = match &ex.expected {
        Expected::Values(t) => json!({ "values": nums(t) }),
        Expected::Class(c) => json!({ "class": c }),
    };
    let paths: Vec<Value> = e
        .paths
        .iter()
        .map(|q| {
            json!({
                "nodes": q.nodes,
                "factors": q.factors.iter().map(|f| json!({"name": f.name, "value": json_number(f.value)})).collect::<Vec<_>>(),
                "product": json_number(q.product),
            })
        })
        .collect();
    json!({
        "param": e.param_name,
        "layer": p.layer,
        "neuron": p.neuron,
        "input": p.input,
        "value": json_number(e.param_value),
        "forward": {
            "input": nums(&ex.input),
            "layers": layers,
            "target": target,
            "loss_kind": ex.loss.formula(),
            "loss": json_number(fw.loss),
            "loss_gradient": nums(&fw.loss_gradient),
        },
        "path_count": e.path_count,
        "paths_listed": if e.listed_all { "all" } else { "largest" },
        "paths": paths,
        "total": json_number(e.total),
        "autograd": json_number(e.autograd),
        "abs_difference": json_number((e.total - e.autograd).abs()),
    })
}

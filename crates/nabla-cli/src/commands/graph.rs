//! `nabla graph (EXPR [--at x=..] | --model MODEL --data SOURCE --row N) --out FILE
//! [--format dot|svg]`: the computational graph in Graphviz DOT, one node per operation with its
//! value and ∂output/∂node, one edge per input labelled with the local derivative. A network is
//! recorded by the library ([`nabla::train::explain::Example::record`]): one node per layer,
//! whose derivative rule is the layer's own backward pass, then the loss op.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nabla::autograd::{Gradients, Var};
use nabla::calculus::to_autograd;
use nabla::Tensor;

use super::{parse_expr, parse_point, CliError};

/// Draw the computational graph of an expression or of a network on one example.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, e.g. 'x^2*y + x*y*z + z^2' (or use --model).
    #[arg(allow_hyphen_values = true, required_unless_present = "model")]
    pub expr: Option<String>,
    /// The point, e.g. x=1,y=2,z=3 (every variable needed).
    #[arg(long, value_name = "POINT", conflicts_with = "model")]
    pub at: Option<String>,
    /// A model file: draw the network's graph for one example (with --data and --row).
    #[arg(long, requires_all = ["data", "row"], conflicts_with = "expr")]
    pub model: Option<PathBuf>,
    /// The data source of the example.
    #[arg(long, requires = "model")]
    pub data: Option<String>,
    /// The 0-based row of the example.
    #[arg(long, requires = "model")]
    pub row: Option<usize>,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// dot (Graphviz source) or svg (rendered with Graphviz's `dot`, which must be installed).
    /// Default: svg when the output ends in .svg, else dot.
    #[arg(long, value_parser = ["dot", "svg"])]
    pub format: Option<String>,
}

/// A short number: integers as such, others with up to 6 significant digits.
pub fn short(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == v.round() && v.abs() < 1e9 {
        return format!("{}", v as i64);
    }
    let text = format!("{v:.6e}");
    let plain = format!("{v:.6}");
    if (1e-3..1e6).contains(&v.abs()) {
        let trimmed = plain.trim_end_matches('0').trim_end_matches('.');
        trimmed.to_string()
    } else {
        text
    }
}

fn summary(t: &Tensor<f64>) -> String {
    if t.len() == 1 {
        short(t.data()[0])
    } else if t.len() <= 4 {
        let items: Vec<String> = t.data().iter().map(|&v| short(v)).collect();
        format!("[{}]", items.join(", "))
    } else {
        format!("shape {:?}", t.shape())
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Every node reachable from `out`, sorted by creation (inputs before their consumers).
fn collect(out: &Var<f64>) -> Vec<Var<f64>> {
    let mut seen = HashSet::new();
    let mut stack = vec![out.clone()];
    let mut nodes = vec![];
    while let Some(v) = stack.pop() {
        if !seen.insert(v.id()) {
            continue;
        }
        stack.extend(v.inputs());
        nodes.push(v);
    }
    nodes.sort_by_key(|v| v.id());
    nodes
}

/// The graph in DOT. Node labels: the operation (or a leaf's name) and its value, and
/// ∂out/∂node when the backward pass reached it. Each node's incoming edges are written in
/// argument order, labelled with the local derivative ∂node/∂input (for tensors, its sum over
/// the node's elements).
pub fn to_dot(
    out: &Var<f64>,
    grads: Option<&Gradients<f64>>,
    title: &str,
    out_name: &str,
) -> Result<String, CliError> {
    let mut dot = String::new();
    dot.push_str("digraph computation {\n");
    dot.push_str("  rankdir=LR;\n");
    dot.push_str(&format!("  label=\"{}\";\n  labelloc=t;\n", escape(title)));
    dot.push_str(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n",
    );
    dot.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for v in collect(out) {
        let value = summary(&v.value());
        let grad = grads
            .and_then(|g| g.get(&v))
            .map(|g| format!("\\n∂{out_name}/∂· = {}", summary(g)))
            .unwrap_or_default();
        let (label, fill) = if v.is_leaf() {
            match v.label() {
                Some(name) if v.requires_grad() => {
                    (format!("{} = {value}", escape(&name)), "#fde9c9")
                }
                Some(name) if name == value => (escape(&name), "#eeeeee"),
                Some(name) => (format!("{} = {value}", escape(&name)), "#eeeeee"),
                None => (value, "#eeeeee"),
            }
        } else {
            let op = match v.label() {
                Some(l) => format!("{} ({l})", v.op_name()),
                None => v.op_name().to_string(),
            };
            (
                format!("{}\\n= {value}", escape(&op)),
                if v.id() == out.id() {
                    "#c9e7d8"
                } else {
                    "#dcebf7"
                },
            )
        };
        dot.push_str(&format!(
            "  n{} [label=\"{label}{grad}\", fillcolor=\"{fill}\"];\n",
            v.id()
        ));
        let locals = v
            .local_derivatives()
            .map_err(|e| CliError::failure(format!("local derivative of {}: {e}", v.op_name())))?;
        for (k, input) in v.inputs().iter().enumerate() {
            let local = locals
                .get(k)
                .and_then(|d| d.as_ref())
                .map(|d| format!("∂/∂in{}: {}", k + 1, summary(d)))
                .unwrap_or_default();
            dot.push_str(&format!(
                "  n{} -> n{} [label=\"{}\"];\n",
                input.id(),
                v.id(),
                escape(&local)
            ));
        }
    }
    dot.push_str("}\n");
    Ok(dot)
}

/// Runs `dot -Tsvg` on `source`; an error says how to install Graphviz when `dot` is missing.
pub fn render_svg(source: &str) -> Result<Vec<u8>, CliError> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::failure(
                "--format svg needs Graphviz's `dot`, which is not installed: install it \
                 (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) or \
                 write --format dot and render it elsewhere",
            ))
        }
        Err(e) => return Err(CliError::failure(format!("cannot run dot: {e}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(source.as_bytes())
            .map_err(|e| CliError::failure(format!("cannot write to dot: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| CliError::failure(format!("dot failed: {e}")))?;
    if !output.status.success() {
        return Err(CliError::failure(format!(
            "dot failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

/// Runs `nabla graph`.
pub fn run(args: Args) -> Result<(), CliError> {
    let svg = match args.format.as_deref() {
        Some("svg") => true,
        Some(_) => false,
        None => args
            .out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg")),
    };
    let (out, title, out_name, summary_line) = if let Some(model) = &args.model {
        let (data, row) = (args.data.clone().unwrap_or_default(), args.row.unwrap_or(0));
        let loaded = super::explain::load_example(model, &data, row)?;
        let loss = loaded
            .example
            .record(&loaded.net)
            .map_err(|e| CliError::failure(e.to_string()))?;
        let loss_value = loss.value().item().unwrap_or(f64::NAN);
        (
            loss,
            format!("{} on row {row} of {data}", model.display()),
            "E".to_string(),
            format!("E = {}", short(loss_value)),
        )
    } else {
        let text = args.expr.clone().unwrap_or_default();
        let expr = parse_expr(&text)?;
        let variables = expr.variables();
        let point = match &args.at {
            Some(at) => parse_point("--at", at, &variables)?,
            None if variables.is_empty() => BTreeMap::new(),
            None => {
                return Err(CliError::usage(format!(
                    "--at is required: give every variable a value, e.g. --at {}",
                    variables
                        .iter()
                        .map(|v| format!("{v}=1"))
                        .collect::<Vec<_>>()
                        .join(",")
                )))
            }
        };
        let leaves: BTreeMap<String, Var<f64>> = point
            .iter()
            .map(|(name, &v)| {
                let leaf = Var::parameter(Tensor::scalar(v));
                leaf.set_label(name.clone());
                (name.clone(), leaf)
            })
            .collect();
        let out = to_autograd(&expr, &leaves).map_err(|e| CliError::failure(e.to_string()))?;
        let value = out.value().item().unwrap_or(f64::NAN);
        let at = super::show_point(&point);
        (
            out,
            format!("f = {expr} at {at}"),
            "f".to_string(),
            format!("f = {}", short(value)),
        )
    };
    let grads = if out.requires_grad() {
        Some(
            out.backward()
                .map_err(|e| CliError::failure(format!("backward: {e}")))?,
        )
    } else {
        None
    };
    let dot = to_dot(&out, grads.as_ref(), &title, &out_name)?;
    let bytes = if svg {
        render_svg(&dot)?
    } else {
        dot.into_bytes()
    };
    nabla::io::write_atomic(&args.out, &bytes).map_err(crate::pipeline::lib_err)?;
    println!(
        "wrote {} ({}, {} nodes): {summary_line}",
        args.out.display(),
        if svg { "SVG" } else { "DOT" },
        collect(&out).len()
    );
    Ok(())
}

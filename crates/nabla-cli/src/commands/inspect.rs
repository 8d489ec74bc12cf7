//! `nabla inspect MODEL [--json]`.

use std::path::PathBuf;

use serde_json::json;

use nabla::nn::{shape_text, LayerSpec};

use super::{print_json, CliError};
use crate::pipeline;

/// Show what a model file holds.
///
/// Architecture, every layer with its output shape and parameter count, the data it was
/// trained on, its class labels, standardisation and its final figures.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model file.
    pub model: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `nabla inspect`.
pub fn run(args: Args) -> Result<(), CliError> {
    let (net, meta) = pipeline::load_model(&args.model)?;
    let mut layers = vec![];
    for (i, layer) in net.layers().iter().enumerate() {
        let count: usize = layer
            .parameters()
            .iter()
            .map(|(_, p)| p.value().len())
            .sum();
        let tensors: Vec<String> = layer
            .parameters()
            .iter()
            .map(|(n, _)| format!("{i}.{n}"))
            .collect();
        layers.push(match layer.spec() {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => json!({
                "index": i,
                "kind": "linear",
                "in": in_features,
                "out": out_features,
                "parameters": count,
                "tensors": tensors,
            }),
            LayerSpec::Activation { activation } => {
                json!({"index": i, "kind": activation.name(), "parameters": 0})
            }
            LayerSpec::Dropout { p } => json!({
                "index": i, "kind": "dropout", "p": p, "parameters": 0
            }),
            other => json!({
                "index": i, "kind": other.kind(), "spec": other, "parameters": count,
                "tensors": tensors,
            }),
        });
    }
    // A format-1 file (an MLP of an earlier release) prints as that release printed it; a
    // newer one lists each layer's output shape too.
    let shapes = match meta.format_version {
        0 | 1 => None,
        _ => Some(net.layer_shapes().map_err(pipeline::lib_err)?),
    };
    for (l, shape) in layers.iter_mut().zip(shapes.iter().flatten()) {
        l["output_shape"] = json!(shape);
    }
    let total = net.num_parameters();
    let outputs = net.output_size();
    // Whether `nabla export --format onnx` can write the model, and why not.
    let onnx = nabla::io::onnx::check_exportable(&net, &meta);
    // Whether the state dict loads into a torch.nn.Sequential of PyTorch's own modules.
    let not_sequential = net
        .specs()
        .iter()
        .position(|l| matches!(l, LayerSpec::Cascade { .. }))
        .map(|i| {
            format!(
                "layer {i} is a cascade-correlation network (hidden units with shortcut \
                 connections), which has no torch.nn module; its tensors are described in the \
                 README (Cascade-correlation)"
            )
        });
    if args.json {
        let mut summary = json!({
            "model": args.model.display().to_string(),
            "format_version": meta.format_version,
            "task": meta.task,
            "loss": meta.loss.name(),
            "architecture": meta.architecture,
            "layers": layers,
            "parameters": total,
            "data_source": meta.data_source,
            "feature_names": meta.feature_names,
            "target": meta.target,
            "class_labels": meta.class_labels,
            "standardization": meta.standardization,
            "target_standardization": meta.target_standardization,
            "training": meta.training,
        });
        if shapes.is_some() {
            summary["torch_sequential"] = match &not_sequential {
                None => json!({"loadable": true}),
                Some(reason) => json!({"loadable": false, "reason": reason}),
            };
            summary["input_shape"] = json!(net.input_shape());
            summary["onnx_export"] = match &onnx {
                Ok(()) => json!({"exportable": true, "opset": nabla::io::onnx::OPSET}),
                Err(e) => json!({"exportable": false, "reason": e.to_string()}),
            };
        }
        return print_json(&summary);
    }
    println!(
        "model: {} (nabla format {})",
        args.model.display(),
        meta.format_version
    );
    println!(
        "task: {}; loss: {} ({})",
        meta.task,
        meta.loss.name(),
        pipeline::describe_loss(meta.loss, outputs)
    );
    println!(
        "architecture: {}",
        pipeline::describe_network(net.input_shape(), &net.specs())
    );
    match &not_sequential {
        None => println!("layers (PyTorch nn.Sequential indices):"),
        Some(reason) => {
            println!("torch.nn.Sequential: not loadable ({reason})");
            println!("layers:");
        }
    }
    if let Some(shapes) = &shapes {
        print!("{}", summary_table(&net, shapes, total));
    }
    for l in layers.iter().filter(|_| shapes.is_none()) {
        let i = l["index"].as_u64().unwrap_or(0);
        let kind = l["kind"].as_str().unwrap_or("");
        if kind == "linear" {
            println!(
                "  {i:>2}  Linear({} → {})  {} parameters ({i}.weight [{}, {}], {i}.bias [{}])",
                l["in"], l["out"], l["parameters"], l["out"], l["in"], l["out"]
            );
        } else if kind == "dropout" {
            let p = match net.specs().get(i as usize) {
                Some(LayerSpec::Dropout { p }) => *p,
                _ => f32::NAN,
            };
            println!("  {i:>2}  Dropout(p = {p})");
        } else {
            println!("  {i:>2}  {kind}");
        }
    }
    println!("parameters: {total}");
    println!("trained on: {}", meta.data_source);
    let names = &meta.feature_names;
    let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    println!(
        "features: {}{}{}",
        net.input_size(),
        if shown.is_empty() { "" } else { " — " },
        shown.join(", ") + if names.len() > 8 { ", …" } else { "" }
    );
    if let Some(t) = &meta.target {
        println!("target column: {t}");
    }
    if !meta.class_labels.is_empty() {
        println!(
            "classes ({}): {}",
            meta.class_labels.len(),
            meta.class_labels.join(", ")
        );
    }
    match &meta.standardization {
        Some(s) => println!(
            "standardization: features (x − mean) / std, fitted on the training split ({} features)",
            s.mean.len()
        ),
        None => println!("standardization: off"),
    }
    if let Some(t) = &meta.target_standardization {
        println!(
            "target standardization: mean {} std {} (predictions are mapped back)",
            t.mean.first().copied().unwrap_or(0.0),
            t.std.first().copied().unwrap_or(1.0)
        );
    }
    match &onnx {
        // (format-1 files print as their release printed them)
        _ if shapes.is_none() => {}
        Ok(()) => println!(
            "onnx export: yes (opset {}; nabla export --model {} --format onnx --out FILE.onnx)",
            nabla::io::onnx::OPSET,
            args.model.display()
        ),
        Err(e) => println!("onnx export: no ({e})"),
    }
    let tr = &meta.training;
    if let Some(e) = tr.get("epochs_run") {
        println!("epochs run: {e}");
    }
    for split in ["train", "val", "test"] {
        if let Some(m) = tr.get(split).filter(|m| m.is_object()) {
            let figures: Vec<String> = m
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k} {:.4}", v.as_f64().unwrap_or(f64::NAN)))
                .collect();
            println!("{split}: {}", figures.join("  "));
        }
    }
    Ok(())
}

/// The layer as PyTorch's `print(model)` names its class, with nabla's description of its
/// settings: `Conv2d(1 → 4, kernel 3×3, stride 1×1, padding 0×0)`, `ReLU`, `Linear(36 → 10)`.
fn torch_title(spec: &LayerSpec, input_rank: usize) -> String {
    let kind = spec.kind();
    let class = match kind {
        "linear" => "Linear",
        "conv2d" => "Conv2d",
        "maxpool2d" => "MaxPool2d",
        "avgpool2d" => "AvgPool2d",
        "flatten" => "Flatten",
        "dropout" => "Dropout",
        "batchnorm" if input_rank == 1 => "BatchNorm1d",
        "batchnorm" => "BatchNorm2d",
        "relu" => "ReLU",
        "leaky_relu" => "LeakyReLU",
        "tanh" => "Tanh",
        "sigmoid" => "Sigmoid",
        "identity" => "Identity",
        "cascade" => "Cascade",
        custom => custom,
    };
    let description = spec.describe();
    format!("{class}{}", description.strip_prefix(kind).unwrap_or(""))
}

/// One row per layer, as torchinfo's summary: index, layer, output shape of one row and
/// parameters; the input's shape first and the total last.
fn summary_table(net: &nabla::nn::Sequential, shapes: &[Vec<usize>], total: usize) -> String {
    let text = |cells: [&str; 4]| cells.map(str::to_string);
    let mut rows = vec![
        text(["index", "layer", "output shape", "parameters"]),
        text(["", "input", &shape_text(net.input_shape()), ""]),
    ];
    let mut input_rank = net.input_shape().len();
    for (i, (layer, shape)) in net.layers().iter().zip(shapes).enumerate() {
        let count: usize = layer
            .parameters()
            .iter()
            .map(|(_, p)| p.value().len())
            .sum();
        rows.push([
            i.to_string(),
            torch_title(&layer.spec(), input_rank),
            shape_text(shape),
            count.to_string(),
        ]);
        input_rank = shape.len();
    }
    rows.push(text(["", "total", "", &total.to_string()]));
    let mut widths = [0; 4];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for [index, layer, shape, params] in &rows {
        let line = format!(
            "  {index:>iw$}  {layer:<lw$}  {shape:<sw$}  {params:>pw$}",
            iw = widths[0],
            lw = widths[1],
            sw = widths[2],
            pw = widths[3]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

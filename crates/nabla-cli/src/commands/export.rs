//! `nabla export --model MODEL --format onnx --out FILE.onnx [--json]`.

use std::path::PathBuf;

use nabla::io::onnx;
use serde_json::json;

use super::{print_json, CliError};
use crate::pipeline::{self, lib_err};

/// Write a trained model in another format (ONNX).
///
/// The ONNX model (opset 17) takes the raw feature values, as `nabla predict` reads them, in
/// one float input `input` of shape [batch, features] (image rows flat, C·H·W values, reshaped
/// inside the graph), applies the model's standardisation and layers, and ends in the output
/// `predict` gives: `probabilities` [batch, classes] for a classifier (in the order of the
/// `class_labels` metadata entry), `prediction` [batch, outputs] in the target's original units
/// for regression. `batch` is a free dimension. The file is written atomically.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model file (from `nabla train`).
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// The format to write.
    #[arg(long, value_enum, default_value = "onnx")]
    pub format: Format,
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Print one JSON object (input, output, operators, bytes) instead of the text summary.
    #[arg(long)]
    pub json: bool,
}

/// Formats `nabla export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// ONNX (opset 17), for onnxruntime and other ONNX runtimes.
    Onnx,
}

/// Runs `nabla export`.
pub fn run(args: Args) -> Result<(), CliError> {
    let (net, meta) = pipeline::load_model(&args.model)?;
    let summary = match args.format {
        Format::Onnx => onnx::save_onnx(&args.out, &net, &meta).map_err(lib_err)?,
    };
    let (input, features) = &summary.input;
    let (output, width) = &summary.output;
    if args.json {
        return print_json(&json!({
            "model": args.model.display().to_string(),
            "format": "onnx",
            "out": args.out.display().to_string(),
            "opset": onnx::OPSET,
            "ir_version": onnx::IR_VERSION,
            "input": {"name": input, "shape": [onnx::BATCH, features]},
            "output": {"name": output, "shape": [onnx::BATCH, width]},
            "class_labels": meta.class_labels,
            "operators": summary.operators,
            "bytes": summary.bytes,
        }));
    }
    println!(
        "wrote {} (ONNX opset {}, {} bytes, {} nodes)",
        args.out.display(),
        onnx::OPSET,
        summary.bytes,
        summary.operators.len()
    );
    println!("input:  {input} [{}, {features}] float", onnx::BATCH);
    println!("output: {output} [{}, {width}] float", onnx::BATCH);
    if !meta.class_labels.is_empty() {
        println!("classes: {}", meta.class_labels.join(", "));
    }
    Ok(())
}

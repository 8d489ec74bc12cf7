//! `nabla eval --model MODEL --data SOURCE [--target COL] [--json]`.

use serde_json::json;

use nabla::data::Target;
use nabla::train::{predict_outputs, predicted_classes, ConfusionMatrix};

use super::{json_number, print_json, CliError};
use crate::pipeline::{figures, lib_err, metrics_json, metrics_text};

/// Evaluate a saved model on labelled data.
///
/// Loss and accuracy, per-class precision, recall and
/// F1 and the confusion matrix; for regression MSE, RMSE, MAE and R² (with several targets,
/// over all of them and for each). For mnist:DIR the t10k files are used.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: super::ModelInput,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `nabla eval`.
pub fn run(args: Args) -> Result<(), CliError> {
    let (net, meta, md) = args.input.load(true)?;
    let rows = md.data.len();
    if rows == 0 {
        return Err(CliError::failure(format!("{}: no rows", args.input.data)));
    }
    let m = figures(
        &net,
        &md.data,
        md.truth.as_deref(),
        meta.loss,
        md.target_scaler.as_ref(),
    )?;
    let head = format!(
        "model {} ({}) on {}: {rows} rows",
        args.input.model.display(),
        meta.task,
        args.input.data
    );
    let Target::Classes { labels, .. } = &md.data.target else {
        let mse = m.rmse.map(|r| (r as f64) * (r as f64));
        if args.json {
            let mut v = metrics_json(&m);
            v["task"] = json!(meta.task);
            v["rows"] = json!(rows);
            v["mse"] = mse.map_or(serde_json::Value::Null, json_number);
            return print_json(&v);
        }
        println!("{head}");
        println!("loss {:.4}", m.loss);
        if let (Some(mse), Some(rmse), Some(mae), Some(r2)) = (mse, m.rmse, m.mae, m.r2) {
            let over = match m.per_output.len() {
                0 => String::new(),
                k => format!("  (over all {k} outputs; r2 their mean)"),
            };
            println!("mse {mse:.4}  rmse {rmse:.4}  mae {mae:.4}  r2 {r2:.4}{over}");
        }
        let names = crate::pipeline::output_names(&meta, m.per_output.len());
        for line in crate::pipeline::per_output_text(&m, &names) {
            println!("{line}");
        }
        return Ok(());
    };
    let outputs = net.output_size();
    let raw = predict_outputs(&net, &md.data, 256).map_err(lib_err)?;
    let predicted = predicted_classes(&raw, outputs);
    let names = &meta.class_labels;
    let cm = ConfusionMatrix::new(names.len(), labels, &predicted).map_err(lib_err)?;
    let scores = cm.per_class();
    if args.json {
        let classes: Vec<_> = names
            .iter()
            .zip(&scores)
            .map(|(n, s)| {
                json!({"label": n, "precision": json_number(s.precision), "recall": json_number(s.recall),
                       "f1": json_number(s.f1), "support": s.support})
            })
            .collect();
        let mut v = metrics_json(&m);
        v["task"] = json!(meta.task);
        v["rows"] = json!(rows);
        v["classes"] = json!(classes);
        v["confusion_matrix"] = json!({"labels": names, "counts": cm.counts});
        return print_json(&v);
    }
    println!("{head}");
    println!("{}", metrics_text(&m));
    let w = names.iter().map(|n| n.len()).max().unwrap_or(1).max(5);
    println!(
        "\n{:<w$}  {:>9}  {:>9}  {:>9}  {:>7}",
        "class", "precision", "recall", "f1", "support"
    );
    for (n, s) in names.iter().zip(&scores) {
        println!(
            "{n:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
            s.precision, s.recall, s.f1, s.support
        );
    }
    println!("\nconfusion matrix (rows: true class, columns: predicted class)");
    let cw = cm
        .counts
        .iter()
        .flatten()
        .map(|c| c.to_string().len())
        .max()
        .unwrap_or(1)
        .max(names.iter().map(|n| n.len()).max().unwrap_or(1));
    let mut line = format!("{:<w$}", "");
    for n in names {
        line.push_str(&format!(" {n:>cw$}"));
    }
    println!("{line}");
    for (n, row) in names.iter().zip(&cm.counts) {
        let mut line = format!("{n:<w$}");
        for c in row {
            line.push_str(&format!(" {c:>cw$}"));
        }
        println!("{line}");
    }
    Ok(())
}

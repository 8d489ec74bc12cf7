//! `nabla predict --model MODEL --data SOURCE [--proba] [--out FILE.csv]`.

use std::path::PathBuf;

use nabla::data::Task;
use nabla::train::{class_probabilities, predict_outputs, predicted_classes};

use super::CliError;
use crate::pipeline::lib_err;

/// Predict with a saved model, as CSV.
///
/// One CSV row per input row, a `prediction` column (the class
/// label, or the value for regression; a regression with several targets has one
/// `prediction_<target>` column per target) and with --proba one `p_<label>` column per class
/// in the model's class order. The data may have the target column or not.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: super::ModelInput,
    /// Add one probability column per class.
    #[arg(long)]
    pub proba: bool,
    /// Write the CSV to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Runs `nabla predict`.
pub fn run(args: Args) -> Result<(), CliError> {
    let (net, meta, md) = args.input.load(false)?;
    let outputs = net.output_size();
    let raw = predict_outputs(&net, &md.data, 256).map_err(lib_err)?;
    let mut csv = String::new();
    if meta.task == Task::Regress {
        if args.proba {
            return Err(CliError::usage("--proba: the model is a regression model"));
        }
        let mut values = raw;
        if let Some(s) = &md.target_scaler {
            s.inverse_values(&mut values);
        }
        if outputs == 1 {
            csv.push_str("prediction\n");
        } else {
            let names: Vec<String> = crate::pipeline::output_names(&meta, outputs)
                .iter()
                .map(|n| csv_field(&format!("prediction_{n}")))
                .collect();
            csv.push_str(&names.join(","));
            csv.push('\n');
        }
        for row in values.chunks(outputs.max(1)) {
            let cells: Vec<String> = row.iter().map(f32::to_string).collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
    } else {
        let labels = &meta.class_labels;
        let predicted = predicted_classes(&raw, outputs);
        let proba = class_probabilities(&raw, outputs);
        let k = outputs.max(2);
        csv.push_str("prediction");
        if args.proba {
            for l in labels {
                csv.push(',');
                csv.push_str(&csv_field(&format!("p_{l}")));
            }
        }
        csv.push('\n');
        for (i, &p) in predicted.iter().enumerate() {
            let label = labels
                .get(p as usize)
                .map_or_else(|| p.to_string(), |l| l.clone());
            csv.push_str(&csv_field(&label));
            if args.proba {
                for v in &proba[i * k..(i + 1) * k] {
                    csv.push_str(&format!(",{v}"));
                }
            }
            csv.push('\n');
        }
    }
    match &args.out {
        Some(path) => nabla::io::write_atomic(path, csv.as_bytes()).map_err(lib_err),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (e.g. `| head`) is not an error worth a message.
            let _ = out.write_all(csv.as_bytes());
            Ok(())
        }
    }
}

//! `nabla convert FILE --to csv|fann [--target COLUMNS] [--out FILE]`: one data format from the
//! other, for people moving between nabla (or any CSV tool) and FANN.

use std::path::PathBuf;

use nabla::data::{load_source, write_csv, write_fann, LoadOptions};

use super::CliError;
use crate::pipeline::{lib_err, TaskFlag};

/// The format `convert` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Fann,
}

/// Write a data set in another format: a FANN file as CSV, or a CSV file as FANN.
///
/// FANN → CSV: columns x0, x1, … for the inputs, then a `class` column (the class of a one-hot
/// or single 0/1 output) or one column per output (y, or y0, y1, …) for regression. CSV →
/// FANN: --target names the target columns (default: the last column); a class target becomes
/// one output per class (1 for the row's class, 0 for the others; two classes 0/1 or -1/1 keep
/// a single output), numeric targets one output each. Any other source (builtin:NAME, a
/// .csv.gz) works the same.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data to read: a CSV file, a FANN file (fann:PATH or .train/.test/.data[.gz]) or
    /// builtin:NAME.
    #[arg(value_name = "FILE")]
    pub input: String,
    /// The format to write.
    #[arg(long, value_enum)]
    pub to: Format,
    /// Target column(s) of a CSV input, comma-separated (default: the last column).
    #[arg(long, value_name = "COLUMN[,COLUMN...]")]
    pub target: Option<String>,
    /// How to read a CSV target: classes, values, or decide from the column.
    #[arg(long, value_enum, default_value = "auto")]
    pub task: TaskFlag,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `nabla convert`.
pub fn run(args: Args) -> Result<(), CliError> {
    if let Some(out) = &args.out {
        if out.to_string_lossy().ends_with(".gz") {
            return Err(CliError::usage(format!(
                "--out {}: convert writes plain text; compress it afterwards (gzip)",
                out.display()
            )));
        }
    }
    let opts = LoadOptions {
        target: args.target.clone(),
        task: crate::pipeline::task_choice(args.task),
        ..LoadOptions::default()
    };
    let loaded = load_source(&args.input, &opts).map_err(lib_err)?;
    let data = loaded.test.unwrap_or(loaded.train);
    let text = match args.to {
        Format::Csv => write_csv(&data),
        Format::Fann => write_fann(&data),
    }
    .map_err(lib_err)?;
    match &args.out {
        Some(path) => {
            nabla::io::write_atomic(path, text.as_bytes()).map_err(lib_err)?;
            eprintln!(
                "{}: {} rows, {} features → {}",
                args.input,
                data.len(),
                data.n_features,
                path.display()
            );
            Ok(())
        }
        None => {
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
    }
}

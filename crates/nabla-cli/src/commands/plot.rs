//! `nabla plot history|fn|activations ... --out FILE.(png|svg)`: pictures of training curves,
//! of a function with its derivative and a gradient-descent path, and of the activations.

use std::path::{Path, PathBuf};

use nabla::calculus::{critical, derivative, minimize, DescentOptions};
use nabla::train::HistoryTable;

use super::critical::parse_interval;
use super::{parse_expr, parse_point, CliError};
use crate::figures::{draw_activations, draw_function, draw_history, render_to_file, FunctionPlot};

/// Draw pictures: training curves, a function and its derivative, the activation functions.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

/// The kinds of picture.
#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Train and validation loss and accuracy per epoch, and per-parameter gradient norms on a
    /// log axis, from a history CSV (columns epoch, train_loss, val_loss, train_accuracy,
    /// val_accuracy, grad_norm_NAME... as `train --history` writes them).
    History(HistoryArgs),
    /// A one-variable function and its derivative, stationary points marked, and optionally a
    /// gradient-descent path drawn as steps on the curve.
    Fn(FnArgs),
    /// sigmoid, tanh, ReLU and leaky ReLU with their derivatives.
    Activations(ActivationArgs),
}

/// Output file and size, shared by every picture.
#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Output file; the format follows the extension (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Picture width in pixels.
    #[arg(long)]
    pub width: Option<u32>,
    /// Picture height in pixels.
    #[arg(long)]
    pub height: Option<u32>,
}

impl OutputArgs {
    fn size(&self, default: (u32, u32)) -> Result<(u32, u32), CliError> {
        let (w, h) = (
            self.width.unwrap_or(default.0),
            self.height.unwrap_or(default.1),
        );
        if !(100..=8000).contains(&w) || !(100..=8000).contains(&h) {
            return Err(CliError::usage(format!(
                "--width/--height: {w}×{h} is outside 100..8000 pixels"
            )));
        }
        Ok((w, h))
    }
}

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// The history CSV written by training.
    pub file: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct FnArgs {
    /// The expression in one variable, e.g. 'x*(x-1)*(x-2)*(x-3)'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The interval A..B to draw, e.g. -0.5..3.5.
    #[arg(long = "in", value_name = "A..B", allow_hyphen_values = true)]
    pub interval: String,
    /// Draw gradient descent from this point, e.g. x=1.25.
    #[arg(long, value_name = "POINT")]
    pub descent_from: Option<String>,
    /// Learning rate of the descent.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub lr: f64,
    /// Most descent steps to draw.
    #[arg(long, default_value_t = 200)]
    pub max_steps: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct ActivationArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

fn check_extension(path: &Path) -> Result<(), CliError> {
    crate::figures::ImageFormat::from_path(path)
        .map(|_| ())
        .map_err(CliError::usage)
}

/// Runs `nabla plot`.
pub fn run(args: Args) -> Result<(), CliError> {
    match args.what {
        What::History(a) => history(a),
        What::Fn(a) => function(a),
        What::Activations(a) => activations(a),
    }
}

fn history(args: HistoryArgs) -> Result<(), CliError> {
    check_extension(&args.output.out)?;
    let (w, h) = args.output.size((1000, 1100))?;
    let series = HistoryTable::read_csv(&args.file).map_err(|e| history_error(&args.file, e))?;
    render_to_file!(&args.output.out, w, h, |root| draw_history(&root, &series))
        .map_err(CliError::failure)?;
    println!(
        "wrote {} ({w}×{h}, {} epochs)",
        args.output.out.display(),
        series.epochs.len()
    );
    Ok(())
}

/// A history file that cannot be read, in the words `plot history` uses:
/// `FILE: line L, column C (NAME): MESSAGE`, `FILE: MESSAGE` or `cannot read FILE: ...`.
fn history_error(file: &Path, e: nabla::Error) -> CliError {
    let file = file.display();
    CliError::failure(match e {
        nabla::Error::Io { source, .. } => format!("cannot read {file}: {source}"),
        nabla::Error::Data {
            line: Some(line),
            column: Some(column),
            msg,
            ..
        } => format!("{file}: line {line}, column {column}: {msg}"),
        nabla::Error::Data { msg, .. } => format!("{file}: {msg}"),
        other => format!("{file}: {other}"),
    })
}

fn function(args: FnArgs) -> Result<(), CliError> {
    check_extension(&args.output.out)?;
    let (w, h) = args.output.size((1000, 800))?;
    let expr = parse_expr(&args.expr)?;
    let (a, b) = parse_interval(&args.interval)?;
    let variables = expr.variables();
    if variables.len() > 1 {
        return Err(CliError::usage(format!(
            "plot fn draws functions of one variable; this one has {} ({})",
            variables.len(),
            variables.join(", ")
        )));
    }
    let var = variables
        .first()
        .cloned()
        .unwrap_or_else(|| "x".to_string());
    let slope = derivative(&expr, &var);
    let points = critical(&expr, a, b).map_err(|err| match err {
        nabla::Error::Param { .. } => CliError::usage(err.to_string()),
        other => CliError::failure(other.to_string()),
    })?;
    let mut path = None;
    if let Some(from) = &args.descent_from {
        let start = parse_point("--descent-from", from, &variables)?;
        let options = DescentOptions {
            lr: args.lr,
            max_steps: args.max_steps,
            ..DescentOptions::default()
        };
        let descent = minimize(&expr, &start, &options).map_err(|err| match err {
            nabla::Error::Param { .. } => CliError::usage(err.to_string()),
            other => CliError::failure(format!("gradient descent: {other}")),
        })?;
        let steps: Vec<(f64, f64)> = descent
            .steps
            .iter()
            .map(|s| (s.point.get(&var).copied().unwrap_or(f64::NAN), s.value))
            .collect();
        let last = steps.last().copied().unwrap_or((f64::NAN, f64::NAN));
        println!(
            "gradient descent from {from} with lr = {}: {} steps to {var} = {:.6}, f = {:.6}{}",
            args.lr,
            descent.iterations,
            last.0,
            last.1,
            if descent.converged {
                ""
            } else {
                " (not converged)"
            }
        );
        path = Some(steps);
    }
    let plot = FunctionPlot {
        expr: &expr,
        derivative: &slope,
        variable: &var,
        interval: (a, b),
        critical: &points,
        descent: path.as_deref(),
        lr: args.lr,
    };
    render_to_file!(&args.output.out, w, h, |root| draw_function(&root, &plot))
        .map_err(CliError::failure)?;
    println!(
        "wrote {} ({w}×{h}): f({var}) = {expr}, f′({var}) = {slope}, {} stationary point(s)",
        args.output.out.display(),
        points.len()
    );
    Ok(())
}

fn activations(args: ActivationArgs) -> Result<(), CliError> {
    check_extension(&args.output.out)?;
    let (w, h) = args.output.size((1000, 800))?;
    render_to_file!(&args.output.out, w, h, |root| draw_activations(&root))
        .map_err(CliError::failure)?;
    println!("wrote {} ({w}×{h})", args.output.out.display());
    Ok(())
}

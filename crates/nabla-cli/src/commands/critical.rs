//! `nabla critical EXPR --in A..B [--json]`: critical points of a one-variable expression.

use serde_json::{json, Value};

use nabla::calculus::critical;

use super::{caret, json_number, parse_expr, print_json, CliError};

/// Find and classify the points where f′(x) = 0 in an interval (one-variable expressions).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, e.g. 'x*(x-1)*(x-2)*(x-3)'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The interval A..B to search, with A < B, e.g. -1..4.
    #[arg(long = "in", value_name = "A..B", allow_hyphen_values = true)]
    pub interval: String,
    /// Print JSON: {"points": [{"x", "value", "kind"}, ...]}.
    #[arg(long)]
    pub json: bool,
}

/// Parses an interval `A..B` (finite, A < B) given to `--in`.
pub fn parse_interval(text: &str) -> Result<(f64, f64), CliError> {
    let Some((a_text, b_text)) = text.split_once("..") else {
        return Err(CliError::usage(format!(
            "--in {text}: expected an interval A..B such as -1..4"
        )));
    };
    let number = |s: &str, column: usize| match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(CliError::usage(format!(
            "--in {text}: '{s}' at column {column} is not a finite number{}",
            caret(text, column)
        ))),
    };
    let a = number(a_text, 1)?;
    let b = number(b_text, a_text.chars().count() + 3)?;
    if a >= b {
        return Err(CliError::usage(format!(
            "--in {text}: the start {a} must be below the end {b}"
        )));
    }
    Ok((a, b))
}

/// Runs `nabla critical`.
pub fn run(args: Args) -> Result<(), CliError> {
    let expr = parse_expr(&args.expr)?;
    let (a, b) = parse_interval(&args.interval)?;
    let points = critical(&expr, a, b).map_err(|err| match err {
        nabla::Error::Param { .. } => CliError::usage(err.to_string()),
        other => CliError::failure(other.to_string()),
    })?;
    if args.json {
        let list: Vec<Value> = points
            .iter()
            .map(|p| {
                json!({
                    "x": json_number(p.x),
                    "value": json_number(p.value),
                    "kind": p.kind.name(),
                })
            })
            .collect();
        return print_json(&json!({ "expr": expr.to_string(), "points": list }));
    }
    let var = expr.variables().join("");
    println!("critical points of f({var}) = {expr} in [{a}, {b}]:");
    if points.is_empty() {
        println!("none");
    }
    for p in &points {
        println!(
            "{var} = {:<20} f = {:<24} {}",
            format!("{:.6}", p.x),
            format!("{:.6}", p.value),
            p.kind
        );
    }
    Ok(())
}

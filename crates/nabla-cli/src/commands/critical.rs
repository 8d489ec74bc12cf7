//! `nabla critical EXPR --in A..B [--json]`: critical points of a one-variable expression, and
//! `--in x=A..B,y=C..D`: stationary points in several variables.

use serde_json::{json, Value};

use nabla::calculus::{critical_and_kinks, stationary_points, Expr};

use super::{caret, json_point, json_real, parse_expr, print_json, show_point, CliError};

/// Find and classify the points where f′(x) = 0 in an interval, or where ∇f = 0 in a box.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, e.g. 'x*(x-1)*(x-2)*(x-3)'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The interval A..B to search, with A < B, e.g. -1..4; for several variables one range
    /// each: x=-1..1,y=-2..2.
    #[arg(long = "in", value_name = "A..B", allow_hyphen_values = true)]
    pub interval: String,
    /// Print JSON. One variable: {"expr", "points": [{"x", "value", "kind"}, ...], "kinks":
    /// [{"x", "value", "left_derivative", "right_derivative", "kind"}]}. Several: {"expr",
    /// "variables", "points": [{"point": {"x", ..}, "value", "kind", "hessian",
    /// "eigenvalues"}]}.
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

/// Parses `x=A..B,y=C..D` given to `--in`.
fn parse_ranges(text: &str) -> Result<Vec<(String, f64, f64)>, CliError> {
    let mut out = Vec::new();
    let mut offset = 0;
    for part in text.split(',') {
        let column = offset + 1;
        offset += part.chars().count() + 1;
        let Some((name, range)) = part.split_once('=') else {
            return Err(CliError::usage(format!(
                "--in {text}: expected name=A..B at column {column}, found '{part}'{}",
                caret(text, column)
            )));
        };
        let (a, b) = parse_interval(range.trim()).map_err(|e| {
            CliError::usage(format!(
                "--in {text}: in the range of '{}' at column {column}: {}",
                name.trim(),
                e.message
            ))
        })?;
        out.push((name.trim().to_string(), a, b));
    }
    Ok(out)
}

/// Runs `nabla critical`.
pub fn run(args: Args) -> Result<(), CliError> {
    let expr = parse_expr(&args.expr)?;
    let variables = expr.variables();
    if args.interval.contains('=') {
        let ranges = parse_ranges(&args.interval)?;
        if variables.len() == 1 && ranges.len() == 1 && ranges[0].0 == variables[0] {
            return one_variable(&expr, ranges[0].1, ranges[0].2, args.json);
        }
        return several_variables(&expr, &ranges, args.json);
    }
    if variables.len() > 1 {
        return Err(CliError::usage(format!(
            "--in {}: f has the variables {}, and one range A..B needs exactly one variable: \
             give each its range, e.g. --in {}",
            args.interval,
            variables.join(", "),
            variables
                .iter()
                .map(|v| format!("{v}=-1..1"))
                .collect::<Vec<_>>()
                .join(",")
        )));
    }
    let (a, b) = parse_interval(&args.interval)?;
    one_variable(&expr, a, b, args.json)
}

fn library_error(err: nabla::Error) -> CliError {
    match err {
        nabla::Error::Param { .. } => CliError::usage(err.to_string()),
        other => CliError::failure(other.to_string()),
    }
}

fn one_variable(expr: &Expr, a: f64, b: f64, json: bool) -> Result<(), CliError> {
    let analysis = critical_and_kinks(expr, a, b).map_err(library_error)?;
    let kink_kind = |k: &nabla::calculus::Kink| k.extremum().map_or("neither", |c| c.name());
    if json {
        let list: Vec<Value> = analysis
            .points
            .iter()
            .map(|p| {
                json!({
                    "x": json_real(p.x),
                    "value": json_real(p.value),
                    "kind": p.kind.name(),
                })
            })
            .collect();
        let kinks: Vec<Value> = analysis
            .kinks
            .iter()
            .map(|k| {
                json!({
                    "x": json_real(k.x),
                    "value": json_real(k.value),
                    "left_derivative": json_real(k.left_derivative),
                    "right_derivative": json_real(k.right_derivative),
                    "kind": kink_kind(k),
                })
            })
            .collect();
        return print_json(&json!({ "expr": expr.to_string(), "points": list, "kinks": kinks }));
    }
    let var = expr.variables().join("");
    println!("critical points of f({var}) = {expr} in [{a}, {b}]:");
    if analysis.points.is_empty() {
        println!("none");
    }
    for p in &analysis.points {
        println!(
            "{var} = {:<20} f = {:<24} {}",
            format!("{:.6}", p.x),
            format!("{:.6}", p.value),
            p.kind
        );
    }
    if !analysis.kinks.is_empty() {
        println!("points where f is not differentiable (f′ jumps across 0):");
        for k in &analysis.kinks {
            let kind = match k.extremum() {
                Some(c) => format!("kink, a {c}"),
                None => "kink".to_string(),
            };
            println!(
                "{var} = {:<20} f = {:<24} {kind}: f′ jumps from {} to {}",
                format!("{:.6}", k.x),
                format!("{:.6}", k.value),
                k.left_derivative,
                k.right_derivative
            );
        }
    }
    Ok(())
}

fn several_variables(
    expr: &Expr,
    ranges: &[(String, f64, f64)],
    json: bool,
) -> Result<(), CliError> {
    let points = stationary_points(expr, ranges).map_err(library_error)?;
    let variables = expr.variables();
    let matrix = |m: &[Vec<f64>]| -> Value {
        Value::Array(
            m.iter()
                .map(|row| Value::Array(row.iter().map(|v| json_real(*v)).collect()))
                .collect(),
        )
    };
    if json {
        let list: Vec<Value> = points
            .iter()
            .map(|p| {
                json!({
                    "point": json_point(&p.point),
                    "value": json_real(p.value),
                    "kind": p.kind.name(),
                    "hessian": matrix(&p.hessian),
                    "eigenvalues": p.eigenvalues.iter().map(|v| json_real(*v)).collect::<Vec<_>>(),
                })
            })
            .collect();
        return print_json(&json!({
            "expr": expr.to_string(),
            "variables": variables,
            "points": list,
        }));
    }
    let boxed: Vec<String> = ranges
        .iter()
        .map(|(v, a, b)| format!("{v} in [{a}, {b}]"))
        .collect();
    println!(
        "stationary points (∇f = 0) of f({}) = {expr} for {}:",
        variables.join(", "),
        boxed.join(", ")
    );
    if points.is_empty() {
        println!("none");
    }
    for p in &points {
        let shown: Vec<String> = p.point.values().map(|v| format!("{v:.6}")).collect();
        let eig: Vec<String> = p.eigenvalues.iter().map(|v| format!("{v:.6}")).collect();
        println!(
            "({}) = ({})  f = {:.6}  {}  (Hessian eigenvalues {})",
            variables.join(", "),
            shown.join(", "),
            p.value,
            p.kind,
            eig.join(", ")
        );
        let rows: Vec<String> = p
            .hessian
            .iter()
            .map(|row| {
                let cells: Vec<String> = row.iter().map(|v| format!("{}", v + 0.0)).collect();
                format!("[{}]", cells.join(", "))
            })
            .collect();
        println!(
            "  Hessian at {}: [{}]",
            show_point(&p.point),
            rows.join(", ")
        );
    }
    Ok(())
}

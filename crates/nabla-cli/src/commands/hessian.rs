//! `nabla hessian EXPR [--at x=1,y=2] [--json]`: the symbolic Hessian matrix and its value.

use serde_json::{json, Value};

use nabla::calculus::{eval_matrix, hessian, symmetric_eigenvalues, to_latex, StationaryKind};

use super::{json_real, parse_expr, parse_point, print_json, show_point, CliError, ExprAt};

/// Print the matrix of second partial derivatives ∂²f/∂xᵢ∂xⱼ, symbolically and at a point.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print JSON: {"expr", "variables", "hessian": [["..", ..], ..], and with --at "value":
    /// [[..]], "eigenvalues", "kind"}.
    #[arg(long)]
    pub json: bool,
    /// Print LaTeX (\frac, \partial, \nabla, \int, …) instead of plain text.
    #[arg(long)]
    pub latex: bool,
    #[command(flatten)]
    pub input: ExprAt,
}

/// Runs `nabla hessian`.
pub fn run(args: Args) -> Result<(), CliError> {
    let expr = parse_expr(&args.input.expr)?;
    let (variables, h) = hessian(&expr);
    let point = match &args.input.at {
        Some(text) => Some(parse_point("--at", text, &variables)?),
        None => None,
    };
    let value = match &point {
        Some(p) => {
            let m = eval_matrix(&h, p).map_err(|e| CliError::failure(e.to_string()))?;
            let eig = symmetric_eigenvalues(&m);
            Some((m, eig))
        }
        None => None,
    };
    if args.json {
        let mut out = super::expr_json(&expr, "variables", json!(variables));
        let symbolic: Vec<Vec<String>> = h
            .iter()
            .map(|row| row.iter().map(|e| e.to_string()).collect())
            .collect();
        out.insert("hessian".into(), json!(symbolic));
        if let Some((m, eig)) = &value {
            let rows: Vec<Value> = m
                .iter()
                .map(|row| Value::Array(row.iter().map(|v| json_real(*v)).collect()))
                .collect();
            out.insert("value".into(), Value::Array(rows));
            out.insert(
                "eigenvalues".into(),
                Value::Array(eig.iter().map(|v| json_real(*v)).collect()),
            );
            out.insert(
                "kind".into(),
                json!(StationaryKind::from_eigenvalues(eig).name()),
            );
        }
        return print_json(&Value::Object(out));
    }
    if args.latex {
        let rows: Vec<String> = h
            .iter()
            .map(|row| row.iter().map(to_latex).collect::<Vec<_>>().join(" & "))
            .collect();
        println!(
            "\\nabla^2 f = \\begin{{pmatrix}} {} \\end{{pmatrix}}",
            rows.join(" \\\\ ")
        );
        return Ok(());
    }
    println!("f({}) = {expr}", variables.join(", "));
    if variables.is_empty() {
        println!("f has no variables: its Hessian is empty");
        return Ok(());
    }
    for (i, vi) in variables.iter().enumerate() {
        for (j, vj) in variables.iter().enumerate().skip(i) {
            let name = if i == j {
                format!("∂²f/∂{vi}²")
            } else {
                format!("∂²f/∂{vi}∂{vj}")
            };
            println!("{name} = {}", h[i][j]);
        }
    }
    println!("Hessian (rows and columns {}):", variables.join(", "));
    print_matrix(
        h.iter()
            .map(|row| row.iter().map(|e| e.to_string()).collect()),
    );
    if let (Some(p), Some((m, eig))) = (&point, &value) {
        println!();
        println!("at {}:", show_point(p));
        print_matrix(
            m.iter()
                .map(|row| row.iter().map(|v| (v + 0.0).to_string()).collect()),
        );
        let shown: Vec<String> = eig.iter().map(|v| v.to_string()).collect();
        println!(
            "eigenvalues: {} ({})",
            shown.join(", "),
            match StationaryKind::from_eigenvalues(eig) {
                StationaryKind::Minimum => "positive definite",
                StationaryKind::Maximum => "negative definite",
                StationaryKind::Saddle => "indefinite",
                StationaryKind::Degenerate => "singular or semi-definite",
            }
        );
    }
    Ok(())
}

/// Prints rows of cells as `[a, b]` lines with the columns aligned.
fn print_matrix(rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.collect();
    let columns = rows.first().map_or(0, |r| r.len());
    let widths: Vec<usize> = (0..columns)
        .map(|j| rows.iter().map(|r| r[j].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        println!("  [{}]", cells.join(", "));
    }
}

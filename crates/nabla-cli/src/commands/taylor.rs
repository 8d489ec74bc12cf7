//! `nabla taylor EXPR --at x=A --order N [--json]`: the Taylor polynomial, exact coefficients.

use serde_json::json;

use nabla::calculus::{parse, taylor, to_latex};

use super::{parse_expr, print_json, CliError};

/// Print the Taylor polynomial Σ f⁽ᵏ⁾(a)/k!·(x − a)ᵏ of an expression about a point.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, e.g. 'exp(x)*sin(x)'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The expansion point VAR=A (A a number or constant expression, e.g. x=0 or x=pi/2).
    #[arg(long, value_name = "VAR=A", allow_hyphen_values = true)]
    pub at: String,
    /// The highest degree (0 to 30).
    #[arg(long, default_value_t = 5)]
    pub order: usize,
    /// Print LaTeX (\frac, \partial, \nabla, \int, …) instead of plain text.
    #[arg(long)]
    pub latex: bool,
    /// Print JSON: {"expr", "wrt", "at", "order", "polynomial", "coefficients"} (coefficients
    /// from degree 0 up, as exact expressions).
    #[arg(long)]
    pub json: bool,
}

/// Runs `nabla taylor`.
pub fn run(args: Args) -> Result<(), CliError> {
    let expr = parse_expr(&args.expr)?;
    let Some((var, point)) = args.at.split_once('=') else {
        return Err(CliError::usage(format!(
            "--at {}: expected VAR=A such as x=0",
            args.at
        )));
    };
    let var = var.trim().to_string();
    let at =
        parse(point.trim()).map_err(|err| CliError::usage(format!("--at {}: {err}", args.at)))?;
    let (polynomial, coefficients) =
        taylor(&expr, &var, &at, args.order).map_err(|err| match err {
            nabla::Error::Param { .. } => CliError::usage(err.to_string()),
            other => CliError::failure(other.to_string()),
        })?;
    if args.json {
        let cs: Vec<String> = coefficients.iter().map(|c| c.to_string()).collect();
        return print_json(&json!({
            "expr": expr.to_string(),
            "wrt": var,
            "at": at.to_string(),
            "order": args.order,
            "polynomial": polynomial.to_string(),
            "coefficients": cs,
        }));
    }
    if args.latex {
        println!("T_{{{}}}({var}) = {}", args.order, to_latex(&polynomial));
        return Ok(());
    }
    println!(
        "Taylor polynomial of f({var}) = {expr} about {var} = {at}, order {}:",
        args.order
    );
    println!("{polynomial}");
    Ok(())
}

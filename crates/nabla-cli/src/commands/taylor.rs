//! `nabla taylor EXPR --at x=A --order N [--on LO..HI] [--json]`: the Taylor polynomial with
//! exact coefficients, and the Lagrange remainder bound on an interval.

use serde_json::json;

use nabla::calculus::{parse, taylor, taylor_remainder_bound, to_latex, Expr};

use super::{json_real, parse_expr, print_json, CliError};

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
    /// An interval LO..HI (numbers or constant expressions, e.g. -1..1 or 0..pi/2) on which to
    /// bound the error by the Lagrange remainder max|f^(N+1)|·max|x − a|^(N+1)/(N+1)!, the
    /// maximum estimated by sampling.
    #[arg(long, value_name = "LO..HI", allow_hyphen_values = true)]
    pub on: Option<String>,
    /// Print LaTeX (\frac, \partial, \nabla, \int, …) instead of plain text.
    #[arg(long)]
    pub latex: bool,
    /// Print JSON: {"expr", "wrt", "at", "order", "polynomial", "coefficients"} (coefficients
    /// from degree 0 up, as exact expressions); with --on also "remainder_bound" and
    /// "remainder" {"interval", "derivative", "max_abs_derivative", "at", "max_distance",
    /// "samples", "maximum": "sampled"}.
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
    let library_error = |err: nabla::Error| match err {
        nabla::Error::Param { .. } => CliError::usage(err.to_string()),
        other => CliError::failure(other.to_string()),
    };
    let (polynomial, coefficients) = taylor(&expr, &var, &at, args.order).map_err(library_error)?;
    let interval = args.on.as_deref().map(parse_interval).transpose()?;
    let remainder = interval
        .map(|(lo, hi)| {
            taylor_remainder_bound(&expr, &var, &at, args.order, lo, hi).map(|r| (lo, hi, r))
        })
        .transpose()
        .map_err(library_error)?;
    let n1 = args.order + 1;
    if args.json {
        let cs: Vec<String> = coefficients.iter().map(|c| c.to_string()).collect();
        let mut out = json!({
            "expr": expr.to_string(),
            "wrt": var,
            "at": at.to_string(),
            "order": args.order,
            "polynomial": polynomial.to_string(),
            "coefficients": cs,
        });
        if let Some((lo, hi, r)) = &remainder {
            out["remainder_bound"] = json_real(r.bound);
            out["remainder"] = json!({
                "interval": [json_real(*lo), json_real(*hi)],
                "derivative": r.derivative.to_string(),
                "max_abs_derivative": json_real(r.max_derivative),
                "at": json_real(r.max_derivative_at),
                "max_distance": json_real(r.max_distance),
                "samples": r.samples,
                "maximum": "sampled",
            });
        }
        return print_json(&out);
    }
    if args.latex {
        println!("T_{{{}}}({var}) = {}", args.order, to_latex(&polynomial));
        if let Some((lo, hi, r)) = &remainder {
            println!(
                "\\left|f({var}) - T_{{{}}}({var})\\right| \\le {} \\quad \\text{{for }} {var} \\in [{lo}, {hi}]",
                args.order, r.bound
            );
        }
        return Ok(());
    }
    println!(
        "Taylor polynomial of f({var}) = {expr} about {var} = {at}, order {}:",
        args.order
    );
    println!("{polynomial}");
    if let Some((lo, hi, r)) = &remainder {
        println!(
            "Lagrange remainder on [{lo}, {hi}]: |f({var}) - T_{}({var})| <= max|f^({n1})|*max|{var} - {at}|^{n1}/{n1}! = {}*{}^{n1}/{n1}! = {}",
            args.order, r.max_derivative, r.max_distance, r.bound
        );
        println!(
            "  f^({n1})({var}) = {}; max|f^({n1})| = {} at {var} = {}: estimated by sampling ({} evaluations: a grid with both ends, refined next to its largest), not proven",
            r.derivative, r.max_derivative, r.max_derivative_at, r.samples
        );
    }
    Ok(())
}

/// Parses `LO..HI` given to `--on` (numbers or constant expressions, LO < HI).
fn parse_interval(text: &str) -> Result<(f64, f64), CliError> {
    let Some((lo_text, hi_text)) = text.split_once("..") else {
        return Err(CliError::usage(format!(
            "--on {text}: expected an interval LO..HI such as -1..1"
        )));
    };
    let value = |s: &str| -> Result<f64, CliError> {
        let e: Expr =
            parse(s.trim()).map_err(|err| CliError::usage(format!("--on {text}: {err}")))?;
        match e.eval(&[] as &[(&str, f64)]) {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(CliError::usage(format!(
                "--on {text}: '{}' is not a finite constant",
                s.trim()
            ))),
        }
    };
    let (lo, hi) = (value(lo_text)?, value(hi_text)?);
    if lo >= hi {
        return Err(CliError::usage(format!(
            "--on {text}: the start {lo} must be below the end {hi}"
        )));
    }
    Ok((lo, hi))
}

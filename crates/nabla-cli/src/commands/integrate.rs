//! `nabla integrate EXPR [--wrt x] [--from A --to B] [--steps] [--json]`: antiderivatives with
//! the rules applied, and definite integrals (exact, or numeric with an error estimate).

use serde_json::{json, Value};

use nabla::calculus::{derivative, integrate, integrate_definite, parse, simplify, to_latex, Expr};

use super::{json_real, parse_expr, print_json, CliError};

/// Integrate an expression: an antiderivative (+ C) step by step, or a definite integral.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The integrand, e.g. 'x*exp(x)'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The variable of integration (default: the expression's only variable, else x).
    #[arg(long, alias = "var", value_name = "VAR")]
    pub wrt: Option<String>,
    /// Lower limit (a constant expression such as 0, -1/2 or pi); needs --to.
    #[arg(long, value_name = "A", allow_hyphen_values = true, requires = "to")]
    pub from: Option<String>,
    /// Upper limit; needs --from.
    #[arg(long, value_name = "B", allow_hyphen_values = true, requires = "from")]
    pub to: Option<String>,
    /// Print LaTeX (\frac, \partial, \nabla, \int, …) instead of plain text (with --steps, one
    /// line per step and the rule in \texttt).
    #[arg(long)]
    pub latex: bool,
    /// Show each rule applied, and the check (differentiating the answer back).
    #[arg(long)]
    pub steps: bool,
    /// Print JSON: {"expr", "wrt", "antiderivative" (null when no rule applies), "steps", and
    /// with limits "value", "exact", "error_estimate", "method": "symbolic"|"numeric"}.
    #[arg(long)]
    pub json: bool,
}

fn limit(flag: &str, text: &str) -> Result<Expr, CliError> {
    let e = parse(text).map_err(|err| CliError::usage(format!("{flag} {text}: {err}")))?;
    if !e.variables().is_empty() {
        return Err(CliError::usage(format!(
            "{flag} {text}: a limit must be a number or a constant expression (like pi/2)"
        )));
    }
    Ok(e)
}

/// Runs `nabla integrate`.
pub fn run(args: Args) -> Result<(), CliError> {
    let expr = parse_expr(&args.expr)?;
    let variables = expr.variables();
    let var = match (&args.wrt, variables.as_slice()) {
        (Some(v), _) => v.clone(),
        (None, [only]) => only.clone(),
        (None, []) => "x".to_string(),
        (None, many) => {
            return Err(CliError::usage(format!(
                "f has the variables {}: say which to integrate over with --wrt",
                many.join(", ")
            )))
        }
    };
    let failure = |err: nabla::Error| match err {
        nabla::Error::Param { .. } => CliError::usage(err.to_string()),
        other => CliError::failure(other.to_string()),
    };
    let anti = integrate(&expr, &var).map_err(failure)?;
    let definite = match (&args.from, &args.to) {
        (Some(a), Some(b)) => {
            let (a, b) = (limit("--from", a)?, limit("--to", b)?);
            Some((
                a.clone(),
                b.clone(),
                integrate_definite(&expr, &var, &a, &b).map_err(failure)?,
            ))
        }
        _ => None,
    };
    if args.json {
        let mut out = super::expr_json(&expr, "wrt", json!(var));
        out.insert(
            "antiderivative".into(),
            anti.as_ref()
                .map_or(Value::Null, |a| json!(a.result.to_string())),
        );
        let steps: Vec<Value> = anti.as_ref().map_or(Vec::new(), |a| {
            a.steps
                .iter()
                .map(|s| {
                    json!({
                        "rule": s.rule,
                        "expr": s.expr.to_string(),
                        "result": s.result.to_string(),
                        "depth": s.depth,
                    })
                })
                .collect()
        });
        out.insert("steps".into(), Value::Array(steps));
        if let Some((_, _, d)) = &definite {
            out.insert("value".into(), json_real(d.value));
            out.insert(
                "exact".into(),
                d.exact
                    .as_ref()
                    .map_or(Value::Null, |e| json!(e.to_string())),
            );
            out.insert("error_estimate".into(), json_real(d.error_estimate));
            out.insert("method".into(), json!(d.method.name()));
        }
        return print_json(&Value::Object(out));
    }
    if args.latex {
        if let (true, Some(a)) = (args.steps, &anti) {
            for s in &a.steps {
                println!("{}", s.to_latex(&var));
            }
            let back = simplify(&derivative(&a.result, &var));
            println!(
                "\\frac{{d}}{{d{var}}} \\left({}\\right) = {} \\qquad \\text{{(check)}}",
                to_latex(&a.result),
                to_latex(&back)
            );
        }
        match (&anti, &definite) {
            (_, Some((a, b, d))) => println!(
                "\\int_{{{}}}^{{{}}} {} \\, d{var} = {}",
                to_latex(a),
                to_latex(b),
                to_latex(&expr),
                d.exact.as_ref().map_or(d.value.to_string(), to_latex)
            ),
            (Some(a), None) => println!(
                "\\int {} \\, d{var} = {} + C",
                to_latex(&expr),
                to_latex(&a.result)
            ),
            (None, None) => println!("\\int {} \\, d{var}", to_latex(&expr)),
        }
        return Ok(());
    }
    match &anti {
        Some(a) => {
            if args.steps {
                for s in &a.steps {
                    println!("  {s}");
                }
                let back = simplify(&derivative(&a.result, &var));
                println!("check: d/d{var} ({}) = {back}", a.result);
            }
            println!("∫ {expr} d{var} = {} + C", a.result);
        }
        None => println!("∫ {expr} d{var}: no rule applies (no antiderivative found)"),
    }
    if let Some((a, b, d)) = &definite {
        match &d.exact {
            Some(exact) => println!("∫ from {a} to {b} = {exact} = {}", d.value),
            None => println!(
                "∫ from {a} to {b} ≈ {} (numeric: adaptive Gauss–Kronrod, error estimate {:.1e})",
                d.value, d.error_estimate
            ),
        }
    }
    Ok(())
}

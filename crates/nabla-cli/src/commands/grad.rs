//! `nabla grad EXPR [--at x=1,y=2] [--json] [--steps]`: symbolic partial derivatives.

use serde_json::{json, Value};

use nabla::calculus::{derivative, diff_with_steps, to_latex, Expr};

use super::{
    json_real, parse_expr, parse_point_exact, print_json, show_point, with_value, CliError, ExprAt,
};

/// Print every partial derivative of an expression, symbolically and optionally at a point.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: ExprAt,
    /// Print JSON: {"expr", "variables", "partials", and with --at "value", "gradient" (and
    /// "domain_error" when a partial is undefined there, and "exact": {"at", "value",
    /// "gradient"} when the point was written with expressions such as pi/6); with --steps
    /// "steps"}. Values JSON
    /// cannot hold are the strings "nan", "inf", "-inf". A point where f itself is undefined
    /// (ln(x) at x = -1) is an error (exit 1).
    #[arg(long)]
    pub json: bool,
    /// Print LaTeX (\frac, \partial, \nabla, \int, …) instead of plain text (with --steps,
    /// one line per step and the rule in \texttt).
    #[arg(long)]
    pub latex: bool,
    /// Show the derivation rule by rule for each variable.
    #[arg(long)]
    pub steps: bool,
}

/// Runs `nabla grad`.
pub fn run(args: Args) -> Result<(), CliError> {
    let expr = parse_expr(&args.input.expr)?;
    let variables = expr.variables();
    let exact_point = match &args.input.at {
        Some(text) => Some(parse_point_exact("--at", text, &variables)?),
        None => None,
    };
    let point = exact_point.as_ref().map(|p| p.values.clone());
    // (variable, simplified partial, steps if asked)
    let partials: Vec<(String, Expr, Vec<nabla::calculus::Step>)> = variables
        .iter()
        .map(|v| {
            if args.steps {
                let (d, steps) = diff_with_steps(&expr, v);
                (v.clone(), d, steps)
            } else {
                (v.clone(), derivative(&expr, v), Vec::new())
            }
        })
        .collect();
    let evaluated = match &point {
        Some(point) => {
            let value = expr.eval_checked(point).map_err(|err| {
                CliError::failure(format!("f is undefined at {}: {err}", show_point(point)))
            })?;
            let mut gradient = Vec::new();
            // Partials that are undefined where f is defined (sqrt(x) at 0): the reason.
            let mut domain_errors = Vec::new();
            for (v, d, _) in &partials {
                let g = d
                    .eval(point)
                    .map_err(|err| CliError::failure(err.to_string()))?;
                if !g.is_finite() {
                    let why = match d.eval_checked(point) {
                        Err(err) => err.to_string(),
                        Ok(_) => format!("{d} overflows"),
                    };
                    domain_errors.push((v.clone(), why));
                }
                gradient.push((v.clone(), g));
            }
            Some((value, gradient, domain_errors))
        }
        None => None,
    };

    if args.json {
        let mut out = super::expr_json(&expr, "variables", json!(variables));
        out.insert(
            "partials".into(),
            Value::Object(
                partials
                    .iter()
                    .map(|(v, d, _)| (v.clone(), json!(d.to_string())))
                    .collect(),
            ),
        );
        if let Some((value, gradient, domain_errors)) = &evaluated {
            out.insert("value".into(), json_real(*value));
            out.insert(
                "gradient".into(),
                Value::Object(
                    gradient
                        .iter()
                        .map(|(v, g)| (v.clone(), json_real(*g)))
                        .collect(),
                ),
            );
            if !domain_errors.is_empty() {
                out.insert(
                    "domain_error".into(),
                    Value::Object(
                        domain_errors
                            .iter()
                            .map(|(v, why)| (v.clone(), json!(why)))
                            .collect(),
                    ),
                );
            }
        }
        if let (Some(exact_point), Some(_)) = (&exact_point, &evaluated) {
            if let Some(value) = exact_point.exact_value(&expr) {
                let mut exact = serde_json::Map::new();
                exact.insert(
                    "at".into(),
                    Value::Object(
                        exact_point
                            .exact
                            .iter()
                            .map(|(v, e)| (v.clone(), json!(e.to_string())))
                            .collect(),
                    ),
                );
                exact.insert("value".into(), json!(value.to_string()));
                let mut gradient = serde_json::Map::new();
                for (v, d, _) in &partials {
                    if let Some(g) = exact_point.exact_value(d) {
                        gradient.insert(v.clone(), json!(g.to_string()));
                    }
                }
                exact.insert("gradient".into(), Value::Object(gradient));
                out.insert("exact".into(), Value::Object(exact));
            }
        }
        if args.steps {
            out.insert(
                "steps".into(),
                Value::Object(
                    partials
                        .iter()
                        .map(|(v, _, steps)| {
                            let list = steps
                                .iter()
                                .map(|s| {
                                    json!({
                                        "rule": s.rule_name(),
                                        "expr": s.expr.to_string(),
                                        "derivative": s.derivative.to_string(),
                                        "depth": s.depth,
                                    })
                                })
                                .collect();
                            (v.clone(), Value::Array(list))
                        })
                        .collect(),
                ),
            );
        }
        return print_json(&Value::Object(out));
    }

    if args.latex {
        println!("f({}) = {}", variables.join(", "), to_latex(&expr));
        for (v, d, steps) in &partials {
            for step in steps {
                println!("{}", step.to_latex(v));
            }
            println!(
                "\\frac{{\\partial f}}{{\\partial {}}} = {}",
                to_latex(&Expr::var(v)),
                to_latex(d)
            );
        }
        if let Some((_, gradient, _)) = &evaluated {
            let components: Vec<String> = gradient.iter().map(|(_, g)| g.to_string()).collect();
            println!("\\nabla f = \\left({}\\right)", components.join(", "));
        }
        return Ok(());
    }
    println!("f({}) = {expr}", variables.join(", "));
    if variables.is_empty() {
        println!("f has no variables: its gradient is empty");
    }
    for (v, d, steps) in &partials {
        if args.steps {
            println!();
            println!("derivation of ∂f/∂{v}:");
            for step in steps {
                match &step.rule {
                    Some(rule) => println!(
                        "  {:indent$}{}: d/d{v} [{}] = {}",
                        "",
                        rule.name(),
                        step.expr,
                        step.derivative,
                        indent = 2 * step.depth
                    ),
                    None => println!("  expand and collect: {} = {}", step.expr, step.derivative),
                }
            }
        }
        println!("∂f/∂{v} = {d}");
    }
    if let (Some(point), Some((value, gradient, domain_errors))) = (&exact_point, &evaluated) {
        // Where the point was written exactly (x=pi/6), the exact values beside the numbers.
        let shown = |e: &Expr, v: f64| match point.exact_value(e) {
            Some(exact) if v.is_finite() => with_value(&exact, v),
            _ => v.to_string(),
        };
        println!();
        println!("at {}:", point.show());
        println!("f = {}", shown(&expr, *value));
        for ((v, g), (_, d, _)) in gradient.iter().zip(&partials) {
            match domain_errors.iter().find(|(name, _)| name == v) {
                Some((_, why)) => println!("∂f/∂{v} = {g} ({why})"),
                None => println!("∂f/∂{v} = {}", shown(d, *g)),
            }
        }
        let components: Vec<String> = gradient.iter().map(|(_, g)| g.to_string()).collect();
        println!("∇f = ({})", components.join(", "));
    }
    Ok(())
}

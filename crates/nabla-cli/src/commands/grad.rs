//! `nabla grad EXPR [--at x=1,y=2] [--json] [--steps]`: symbolic partial derivatives.

use serde_json::{json, Map, Value};

use nabla::calculus::{derivative, diff_with_steps, Expr};

use super::{json_number, parse_expr, parse_point, print_json, show_point, CliError};

/// Print every partial derivative of an expression, symbolically and optionally at a point.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, e.g. 'x^2*y + x*y*z + z^2'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// Evaluate f and its gradient at this point, e.g. x=1,y=2,z=3 (every variable needed).
    #[arg(long, value_name = "POINT")]
    pub at: Option<String>,
    /// Print JSON: {"expr", "variables", "partials", and with --at "value", "gradient"; with
    /// --steps "steps"}.
    #[arg(long)]
    pub json: bool,
    /// Show the derivation rule by rule for each variable.
    #[arg(long)]
    pub steps: bool,
}

/// Runs `nabla grad`.
pub fn run(args: Args) -> Result<(), CliError> {
    let expr = parse_expr(&args.expr)?;
    let variables = expr.variables();
    let point = match &args.at {
        Some(text) => Some(parse_point("--at", text, &variables)?),
        None => None,
    };
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
            let eval = |e: &Expr| {
                e.eval(point)
                    .map_err(|err| CliError::failure(err.to_string()))
            };
            let value = eval(&expr)?;
            let gradient = partials
                .iter()
                .map(|(v, d, _)| Ok((v.clone(), eval(d)?)))
                .collect::<Result<Vec<_>, CliError>>()?;
            Some((value, gradient))
        }
        None => None,
    };

    if args.json {
        let mut out = Map::new();
        out.insert("expr".into(), json!(expr.to_string()));
        out.insert("variables".into(), json!(variables));
        out.insert(
            "partials".into(),
            Value::Object(
                partials
                    .iter()
                    .map(|(v, d, _)| (v.clone(), json!(d.to_string())))
                    .collect(),
            ),
        );
        if let Some((value, gradient)) = &evaluated {
            out.insert("value".into(), json_number(*value));
            out.insert(
                "gradient".into(),
                Value::Object(
                    gradient
                        .iter()
                        .map(|(v, g)| (v.clone(), json_number(*g)))
                        .collect(),
                ),
            );
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
    if let (Some(point), Some((value, gradient))) = (&point, &evaluated) {
        println!();
        println!("at {}:", show_point(point));
        println!("f = {value}");
        for (v, g) in gradient {
            println!("∂f/∂{v} = {g}");
        }
        let components: Vec<String> = gradient.iter().map(|(_, g)| g.to_string()).collect();
        println!("∇f = ({})", components.join(", "));
    }
    Ok(())
}

//! `nabla minimize EXPR --from x=1.25 [--lr 0.05] [--max-steps N] [--tol T] [--trace] [--json]`.

use serde_json::{json, Value};

use nabla::calculus::{minimize, DescentOptions};

use super::{json_point, json_real, parse_expr, parse_point, print_json, show_point, CliError};

/// Minimise an expression by plain gradient descent x ← x − lr·∇f(x).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, e.g. 'x*(x-1)*(x-2)*(x-3)'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// Starting point, e.g. x=1.25,y=0 (every variable needed).
    #[arg(long, value_name = "POINT")]
    pub from: String,
    /// Learning rate (step size).
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub lr: f64,
    /// Most updates to make.
    #[arg(long, default_value_t = 10_000)]
    pub max_steps: usize,
    /// Stop when the gradient norm or the step norm is below this.
    #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
    pub tol: f64,
    /// Print every step: point, value, gradient.
    #[arg(long)]
    pub trace: bool,
    /// Print JSON: {"steps": [{"step", "point", "value", "gradient"}, ...], "point", "value",
    /// "iterations", "converged"}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `nabla minimize`.
pub fn run(args: Args) -> Result<(), CliError> {
    let expr = parse_expr(&args.expr)?;
    let variables = expr.variables();
    let from = parse_point("--from", &args.from, &variables)?;
    let options = DescentOptions {
        lr: args.lr,
        max_steps: args.max_steps,
        tol: args.tol,
    };
    let descent = minimize(&expr, &from, &options).map_err(|err| match err {
        nabla::Error::Param { .. } => CliError::usage(err.to_string()),
        other => CliError::failure(other.to_string()),
    })?;

    if args.json {
        let steps: Vec<Value> = descent
            .steps
            .iter()
            .map(|s| {
                json!({
                    "step": s.step,
                    "point": json_point(&s.point),
                    "value": json_real(s.value),
                    "gradient": json_point(&s.gradient),
                })
            })
            .collect();
        return print_json(&json!({
            "expr": expr.to_string(),
            "steps": steps,
            "point": json_point(&descent.point),
            "value": json_real(descent.value),
            "iterations": descent.iterations,
            "converged": descent.converged,
        }));
    }

    println!("minimize f({}) = {expr}", variables.join(", "));
    println!(
        "gradient descent: lr = {}, max steps = {}, tol = {:e}",
        options.lr, options.max_steps, options.tol
    );
    if args.trace {
        for s in &descent.steps {
            let gradient: Vec<String> = s.gradient.values().map(|g| g.to_string()).collect();
            println!(
                "step {:>5}: {}  f = {}  ∇f = ({})",
                s.step,
                show_point(&s.point),
                s.value,
                gradient.join(", ")
            );
        }
    }
    let start = &descent.steps[0];
    println!("start: {}  f = {}", show_point(&start.point), start.value);
    println!(
        "end:   {}  f = {}",
        show_point(&descent.point),
        descent.value
    );
    println!("iterations: {}", descent.iterations);
    println!(
        "converged: {}",
        if descent.converged {
            "yes".to_string()
        } else {
            format!("no (stopped after --max-steps {})", options.max_steps)
        }
    );
    Ok(())
}

//! Runs the built `nabla` binary on the calculus commands and checks outputs and exit codes.
//! Expected numbers are derived by hand in the comments.

mod common;

use common::{nabla, nabla_cmd, stderr, stdout};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let out = nabla(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn grad_prints_partials_and_values() {
    let out = nabla_cmd("grad {} --at x=1,y=2,z=3", &["x^2*y + x*y*z + z^2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "∂f/∂x = 2*x*y + y*z",
        "∂f/∂y = x^2 + x*z",
        "∂f/∂z = x*y + 2*z",
        // f = 2 + 6 + 9; ∂x = 2*1*2 + 2*3; ∂y = 1 + 3; ∂z = 1*2 + 2*3.
        "f = 17",
        "∂f/∂x = 10",
        "∂f/∂y = 4",
        "∂f/∂z = 8",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn grad_json_contract() {
    let v = json(&[
        "grad",
        "x^2*y + x*y*z + z^2",
        "--at",
        "x=1,y=2,z=3",
        "--json",
    ]);
    assert_eq!(v["variables"], serde_json::json!(["x", "y", "z"]));
    assert_eq!(v["partials"]["x"], "2*x*y + y*z");
    assert_eq!(v["partials"]["y"], "x^2 + x*z");
    assert_eq!(v["partials"]["z"], "x*y + 2*z");
    assert_eq!(v["value"], 17.0);
    assert_eq!(v["gradient"]["x"], 10.0);
    assert_eq!(v["gradient"]["y"], 4.0);
    assert_eq!(v["gradient"]["z"], 8.0);
    assert!(v["expr"].is_string());
    let no_point = json(&["grad", "x*y", "--json"]);
    assert!(no_point.get("value").is_none() && no_point.get("gradient").is_none());
    assert!(no_point.get("steps").is_none());
}

#[test]
fn grad_steps_text_and_json() {
    let out = nabla_cmd("grad x*(x-1)*(x-2)*(x-3) --steps", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("product: d/dx [x*(x - 1)*(x - 2)*(x - 3)]"),
        "{text}"
    );
    assert!(text.contains("product: d/dx [x*(x - 1)]"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == "∂f/∂x = 4*x^3 - 18*x^2 + 22*x - 6"),
        "{text}"
    );
    let v = json(&["grad", "x*(x-1)*(x-2)*(x-3)", "--steps", "--json"]);
    let steps = v["steps"]["x"].as_array().expect("steps for x");
    assert_eq!(steps[0]["rule"], "product");
    assert_eq!(steps[0]["expr"], "x*(x - 1)*(x - 2)*(x - 3)");
    let last = steps.last().unwrap();
    assert_eq!(last["rule"], "simplify");
    assert_eq!(last["derivative"], "4*x^3 - 18*x^2 + 22*x - 6");
    let v = json(&["grad", "sigmoid(x)", "--steps", "--json"]);
    assert_eq!(v["steps"]["x"][0]["rule"], "chain (sigmoid)");
}

#[test]
fn minimize_quartic() {
    let v = json(&[
        "minimize",
        "x*(x-1)*(x-2)*(x-3)",
        "--from",
        "x=1.25",
        "--lr",
        "0.05",
        "--json",
    ]);
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps[0]["step"], 0);
    assert_eq!(steps[0]["point"]["x"], 1.25);
    // f'(1.25) = 4*1.25^3 - 18*1.25^2 + 22*1.25 - 6 = 1.1875; 1.25 - 0.05*1.1875 = 1.190625.
    assert!((steps[0]["gradient"]["x"].as_f64().unwrap() - 1.1875).abs() < 1e-12);
    assert!((steps[1]["point"]["x"].as_f64().unwrap() - 1.190625).abs() < 1e-12);
    let x = v["point"]["x"].as_f64().unwrap();
    assert!((x - (3.0 - 5f64.sqrt()) / 2.0).abs() < 1e-9, "{x}");
    assert!((v["value"].as_f64().unwrap() + 1.0).abs() < 1e-12);
    assert_eq!(v["converged"], true);
    let n = v["iterations"].as_u64().unwrap() as usize;
    assert_eq!(steps.len(), n + 1);

    let out = nabla_cmd("minimize x*(x-1)*(x-2)*(x-3) --from x=1.25", &[]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("x = 0.38196601"), "{text}");
    assert!(text.contains("converged: yes"), "{text}");

    let out = nabla_cmd("minimize x^2 --from x=1 --lr 0.25 --trace", &[]);
    let text = stdout(&out);
    // x halves each step: 1, 0.5, 0.25 with gradient 2x.
    assert!(
        text.contains("step     1: x = 0.5  f = 0.25  ∇f = (1)"),
        "{text}"
    );
}

#[test]
fn minimize_divergence_exits_one() {
    let out = nabla_cmd("minimize exp(x^2) --from x=3 --lr 1", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: ") && err.contains("diverged at step"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn critical_quartic() {
    let v = json(&["critical", "x*(x-1)*(x-2)*(x-3)", "--in", "-1..4", "--json"]);
    let points = v["points"].as_array().unwrap();
    let expected = [
        ((3.0 - 5f64.sqrt()) / 2.0, "minimum"),
        (1.5, "maximum"),
        ((3.0 + 5f64.sqrt()) / 2.0, "minimum"),
    ];
    assert_eq!(points.len(), 3);
    for (p, (x, kind)) in points.iter().zip(expected) {
        assert!((p["x"].as_f64().unwrap() - x).abs() < 1e-11, "{p}");
        assert_eq!(p["kind"], kind);
    }
    assert!((points[1]["value"].as_f64().unwrap() - 0.5625).abs() < 1e-12);
    let out = nabla_cmd("critical x*(x-1)*(x-2)*(x-3) --in -1..4", &[]);
    let text = stdout(&out);
    assert!(
        text.contains("0.381966") && text.contains("2.618034"),
        "{text}"
    );
    assert_eq!(text.matches("minimum").count(), 2);
    assert_eq!(text.matches("maximum").count(), 1);
}

/// Runs a bad command: non-zero exit, first line `error: ...` containing `needle`, never a panic.
fn bad(args: &[&str], code: i32, needle: &str) -> String {
    let out = nabla(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    let first = err.lines().next().unwrap_or("");
    assert!(first.starts_with("error: "), "{args:?}: {err}");
    assert!(first.contains(needle), "{args:?}: {first}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_expressions_show_column_and_caret() {
    let err = bad(&["grad", "x^^2"], 2, "column 3");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[1], "  x^^2");
    assert_eq!(lines[2], "    ^");
    let err = bad(&["grad", "sin("], 2, "column 5");
    assert_eq!(err.lines().nth(2), Some("      ^"));
    bad(&["grad", "foo(x)"], 2, "unknown function 'foo'");
    bad(&["minimize", "x $ 2", "--from", "x=1"], 2, "column 3");
    bad(&["critical", "x y", "--in", "0..1"], 2, "column 3");
}

#[test]
fn bad_points_and_intervals() {
    bad(
        &["grad", "x*y", "--at", "x=1"],
        2,
        "no value for variable 'y'",
    );
    bad(&["grad", "x*y", "--at", "x=1,y=2,w=3"], 2, "'w'");
    let err = bad(&["grad", "x*y", "--at", "x=abc,y=1"], 2, "'abc'");
    assert_eq!(err.lines().nth(2), Some("    ^"));
    bad(&["grad", "x*y", "--at", "x"], 2, "name=value");
    bad(&["grad", "x", "--at"], 2, "--at");
    bad(
        &["minimize", "x*y", "--from", "x=1"],
        2,
        "no value for variable 'y'",
    );
    bad(
        &["critical", "x^2", "--in", "3..1"],
        2,
        "start 3 must be below the end 1",
    );
    bad(&["critical", "x^2", "--in", "0..z"], 2, "'z'");
    bad(
        &["critical", "x*y", "--in", "0..1"],
        2,
        "exactly one variable",
    );
    bad(
        &["minimize", "x^2", "--from", "x=1", "--lr", "-1"],
        2,
        "learning rate",
    );
}

#[test]
fn grad_prints_exact_and_readable_derivatives() {
    for (f, line) in [
        ("x/3", "∂f/∂x = 1/3"),
        ("tanh(x)", "∂f/∂x = 1 - tanh(x)^2"),
        ("sigmoid(x)", "∂f/∂x = sigmoid(x)*(1 - sigmoid(x))"),
        ("log((x^2+1)*(y^2+2)*exp(z))", "∂f/∂x = 2*x/(x^2 + 1)"),
        ("log((x^2+1)*(y^2+2)*exp(z))", "∂f/∂z = 1"),
        ("(x-y)^3/(x+y)^2", "∂f/∂x = (x - y)^2*(x + 5*y)/(x + y)^3"),
    ] {
        let out = nabla(&["grad", f]);
        assert!(out.status.success(), "{f}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.lines().any(|l| l == line),
            "{f}: missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn values_outside_the_domain_are_reported() {
    // ln(-1) is undefined: an error naming the function and the point, exit 1, no JSON.
    let out = nabla(&["grad", "log(x)", "--at", "x=-1", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: f is undefined at x = -1: ln(x) is undefined"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // sqrt at 0 is defined, its derivative is not: the string "inf" and a domain_error.
    let v = json(&["grad", "sqrt(x)", "--at", "x=0", "--json"]);
    assert_eq!(v["value"], 0.0);
    assert_eq!(v["gradient"]["x"], "inf");
    assert!(v["domain_error"]["x"]
        .as_str()
        .unwrap()
        .contains("division by zero"));
    // Overflow: exp(1000) is "inf", not null.
    let v = json(&["grad", "exp(x)", "--at", "x=1000", "--json"]);
    assert_eq!(v["value"], "inf");
    // 0^x at 1: value 0, derivative 0.
    let v = json(&["grad", "0^x", "--at", "x=1", "--json"]);
    assert_eq!(v["value"], 0.0);
    assert_eq!(v["gradient"]["x"], 0.0);
    assert_eq!(v["partials"]["x"], "0");
}

#[test]
fn critical_reports_a_kink_not_a_minimum() {
    let v = json(&["critical", "abs(x)", "--in", "-1..2", "--json"]);
    assert_eq!(v["points"], serde_json::json!([]));
    let kinks = v["kinks"].as_array().unwrap();
    assert_eq!(kinks.len(), 1);
    assert_eq!(kinks[0]["x"], 0.0);
    assert_eq!(kinks[0]["kind"], "minimum");
    assert_eq!(kinks[0]["left_derivative"], -1.0);
    assert_eq!(kinks[0]["right_derivative"], 1.0);
    let text = stdout(&nabla(&["critical", "abs(x)", "--in", "-1..2"]));
    assert!(text.contains("none"), "{text}");
    assert!(
        text.contains("kink, a minimum: f′ jumps from -1 to 1"),
        "{text}"
    );
}

#[test]
fn critical_in_two_variables_finds_the_saddle() {
    let v = json(&["critical", "x^2 - y^2", "--in", "x=-1..1,y=-1..1", "--json"]);
    assert_eq!(v["variables"], serde_json::json!(["x", "y"]));
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{v}");
    assert_eq!(points[0]["point"], serde_json::json!({"x": 0.0, "y": 0.0}));
    assert_eq!(points[0]["kind"], "saddle");
    assert_eq!(points[0]["value"], 0.0);
    assert_eq!(
        points[0]["hessian"],
        serde_json::json!([[2.0, 0.0], [0.0, -2.0]])
    );
    let text = stdout(&nabla(&[
        "critical",
        "x^2 - y^2",
        "--in",
        "x=-1..1,y=-1..1",
    ]));
    assert!(text.contains("saddle"), "{text}");
    // One variable written as x=A..B is the one-variable search.
    let v = json(&["critical", "x^2", "--in", "x=-1..1", "--json"]);
    assert_eq!(v["points"][0]["kind"], "minimum");
    bad(
        &["critical", "x*y", "--in", "x=-1..1"],
        2,
        "no range for variable 'y'",
    );
    bad(&["critical", "x*y", "--in", "x=-1..1,y=2..1"], 2, "'y'");
}

#[test]
fn hessian_symbolic_and_at_a_point() {
    let v = json(&["hessian", "x^2*y - y^3", "--at", "x=1,y=2", "--json"]);
    assert_eq!(v["variables"], serde_json::json!(["x", "y"]));
    assert_eq!(
        v["hessian"],
        serde_json::json!([["2*y", "2*x"], ["2*x", "-6*y"]])
    );
    // At (1, 2): [[2y, 2x], [2x, -6y]] = [[4, 2], [2, -12]].
    assert_eq!(v["value"], serde_json::json!([[4.0, 2.0], [2.0, -12.0]]));
    assert_eq!(v["kind"], "saddle");
    let text = stdout(&nabla(&["hessian", "x^2*y - y^3"]));
    assert!(text.contains("∂²f/∂x∂y = 2*x"), "{text}");
    bad(&["hessian", "x^^2"], 2, "column 3");
}

#[test]
fn integrate_with_steps_and_limits() {
    let out = nabla(&["integrate", "2"]);
    assert_eq!(stdout(&out).trim(), "∫ 2 dx = 2*x + C");
    let text = stdout(&nabla(&["integrate", "x*exp(x)", "--steps"]));
    assert!(text.contains("by parts: u = x, dv = (exp(x))dx"), "{text}");
    assert!(
        text.contains("check: d/dx (exp(x)*(x - 1)) = x*exp(x)"),
        "{text}"
    );
    assert!(
        text.contains("∫ x*exp(x) dx = exp(x)*(x - 1) + C"),
        "{text}"
    );
    let v = json(&["integrate", "x^2", "--from", "0", "--to", "1", "--json"]);
    assert_eq!(v["wrt"], "x");
    assert_eq!(v["antiderivative"], "x^3/3");
    assert_eq!(v["exact"], "1/3");
    assert_eq!(v["method"], "symbolic");
    assert!((v["value"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-15);
    let numeric = ["integrate", "exp(-x^2)", "--from", "0", "--to", "1"];
    let v = json(&[&numeric[..], &["--json"]].concat());
    assert_eq!(v["antiderivative"], Value::Null);
    assert_eq!(v["method"], "numeric");
    assert!(v["error_estimate"].as_f64().unwrap() < 1e-9);
    let text = stdout(&nabla(&numeric));
    assert!(text.contains("no rule applies"), "{text}");
    assert!(text.contains("numeric: adaptive Gauss–Kronrod"), "{text}");
    bad(
        &["integrate", "1/x", "--from", "-1", "--to", "1"],
        1,
        "improper integrals are not supported",
    );
    bad(&["integrate", "x*y"], 2, "--wrt");
    bad(&["integrate", "x", "--from", "0"], 2, "required arguments");
}

#[test]
fn integrate_by_partial_fractions_and_the_hyperbolic_table() {
    let text = stdout(&nabla(&["integrate", "(3*x+5)/((x-1)*(x+2))", "--steps"]));
    assert!(
        text.contains(
            "partial fractions: (3*x + 5)/((x - 1)*(x + 2)) = 8/(3*(x - 1)) + 1/(3*(x + 2))"
        ),
        "{text}"
    );
    assert!(
        text.contains("log: ∫ A/(x - r) dx = A*ln|x - r|: ∫ 1/(3*(x + 2)) = ln(abs(x + 2))/3"),
        "{text}"
    );
    assert!(text.contains("check: d/dx"), "{text}");
    let v = json(&["integrate", "1/(x*(x^2+1))", "--json"]);
    assert_eq!(v["antiderivative"], "ln(abs(x)) - ln(x^2 + 1)/2");
    // ∫_0^1 1/(x^2 + 1) = atan(1) = pi/4, exactly (atan(1) is simplified to its value).
    let v = json(&[
        "integrate",
        "1/(x^2+1)",
        "--from",
        "0",
        "--to",
        "1",
        "--json",
    ]);
    assert_eq!(v["method"], "symbolic");
    assert_eq!(v["exact"], "pi/4");
    assert!((v["value"].as_f64().unwrap() - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    let out = nabla(&["integrate", "sinh(2*x+1)"]);
    assert_eq!(
        stdout(&out).trim(),
        "∫ sinh(2*x + 1) dx = cosh(2*x + 1)/2 + C"
    );
}

#[test]
fn taylor_polynomial_text_and_json() {
    let out = nabla(&["taylor", "exp(x)", "--at", "x=0", "--order", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out)
        .lines()
        .any(|l| l == "x^4/24 + x^3/6 + x^2/2 + x + 1"));
    let v = json(&[
        "taylor",
        "exp(x)*sin(x)",
        "--at",
        "x=0",
        "--order",
        "5",
        "--json",
    ]);
    assert_eq!(v["polynomial"], "-x^5/30 + x^3/3 + x^2 + x");
    assert_eq!(
        v["coefficients"],
        serde_json::json!(["0", "1", "1", "1/3", "0", "-1/30"])
    );
    let refused: [(&[&str], i32, &str); 2] = [
        (
            &["taylor", "ln(x)", "--at", "x=0"],
            1,
            "ln needs a positive argument",
        ),
        (&["taylor", "x", "--at", "0"], 2, "VAR=A"),
    ];
    for (args, code, needle) in refused {
        bad(args, code, needle);
    }
}

#[test]
fn taylor_remainder_bound_on_an_interval() {
    let args = [
        "taylor", "exp(x)", "--at", "x=0", "--order", "3", "--on", "-1..1",
    ];
    let text = stdout(&nabla(&args));
    assert!(text.contains("Lagrange remainder on [-1, 1]"), "{text}");
    assert!(text.contains("estimated by sampling"), "{text}");
    // max|exp^(4)| on [-1, 1] is e, at 1; max|x - 0| = 1: the bound is e/4!.
    let v = json(&[&args[..], &["--json"]].concat());
    let bound = v["remainder_bound"].as_f64().unwrap();
    assert!((bound - std::f64::consts::E / 24.0).abs() < 1e-15, "{v}");
    assert_eq!(v["remainder"]["derivative"], "exp(x)");
    assert_eq!(v["remainder"]["at"], 1.0);
    assert_eq!(v["remainder"]["maximum"], "sampled");
    // Without --on there is no bound.
    let v = json(&["taylor", "exp(x)", "--at", "x=0", "--order", "3", "--json"]);
    assert!(v.get("remainder_bound").is_none(), "{v}");
    let v = json(&[
        "taylor", "cos(x)", "--at", "x=0", "--on", "0..pi/2", "--json",
    ]);
    assert!(v["remainder_bound"].as_f64().unwrap() > 0.0);
    bad(
        &["taylor", "ln(x)", "--at", "x=1", "--on", "-1..2"],
        1,
        "ln(x) at x = -1 is undefined",
    );
    bad(
        &["taylor", "x", "--at", "x=0", "--on", "2..1"],
        2,
        "below the end",
    );
    bad(&["taylor", "x", "--at", "x=0", "--on", "1"], 2, "LO..HI");
}

/// Whether every `{` has its `}` in LaTeX (escaped `\{` and `\}` aside).
fn braces_balance(tex: &str) -> bool {
    let mut depth = 0i32;
    let mut chars = tex.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

#[test]
fn integrate_steps_in_latex() {
    let text = stdout(&nabla(&[
        "integrate",
        "(3*x+5)/((x-1)*(x+2))",
        "--steps",
        "--latex",
    ]));
    let lines: Vec<&str> = text.lines().collect();
    // The split, two terms, the check and the answer.
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].starts_with(
            "\\int \\frac{3 x + 5}{\\left(x - 1\\right) \\left(x + 2\\right)} \\, dx = "
        ),
        "{text}"
    );
    assert!(lines[0].contains("\\texttt{partial fractions: "), "{text}");
    assert!(
        lines[1].starts_with("\\quad \\int \\frac{8}{3 \\left(x - 1\\right)}"),
        "{text}"
    );
    assert!(
        lines[1].ends_with(
            "\\texttt{log: \\ensuremath{\\int} A/(x - r) dx = A*ln\\textbar{}x - r\\textbar{}}"
        ),
        "{text}"
    );
    assert!(lines[3].starts_with("\\frac{d}{dx} \\left("), "{text}");
    assert!(lines[4].ends_with(" + C"), "{text}");
    for line in &lines {
        assert!(braces_balance(line), "{line}");
        // No raw ∫, and every ^ opens a group (a superscript, or the escaped \^{} of a rule).
        assert!(!line.contains('∫'), "{line}");
        assert!(
            line.split('^').skip(1).all(|rest| rest.starts_with('{')),
            "{line}"
        );
    }
    // Without --steps, --latex prints the answer alone, as before.
    let text = stdout(&nabla(&["integrate", "(3*x+5)/((x-1)*(x+2))", "--latex"]));
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn grad_steps_in_latex() {
    let text = stdout(&nabla(&["grad", "x*sin(x)", "--steps", "--latex"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "f(x) = x \\sin\\left(x\\right)");
    assert_eq!(
        lines[1],
        "\\frac{\\partial}{\\partial x} \\left[x \\sin\\left(x\\right)\\right] = \\sin\\left(x\\right) + x \\cos\\left(x\\right) \\qquad \\texttt{product}"
    );
    assert!(
        lines[3].starts_with("\\quad \\frac{\\partial}{\\partial x} \\left[\\sin"),
        "{text}"
    );
    assert!(lines[3].ends_with("\\texttt{chain (sin)}"), "{text}");
    // The last step equates the raw derivative with its collected form.
    assert_eq!(
        lines[lines.len() - 2],
        "\\sin\\left(x\\right) + x \\cos\\left(x\\right) = x \\cos\\left(x\\right) + \\sin\\left(x\\right) \\qquad \\texttt{expand and collect}"
    );
    assert_eq!(
        lines[lines.len() - 1],
        "\\frac{\\partial f}{\\partial x} = x \\cos\\left(x\\right) + \\sin\\left(x\\right)"
    );
    for line in &lines {
        assert!(braces_balance(line), "{line}");
    }
}

#[test]
fn latex_output_of_grad_hessian_integrate_taylor() {
    let text = stdout(&nabla(&["grad", "x/3 + y^2", "--latex"]));
    assert!(
        text.contains("\\frac{\\partial f}{\\partial x} = \\frac{1}{3}"),
        "{text}"
    );
    assert!(
        text.contains("\\frac{\\partial f}{\\partial y} = 2 y"),
        "{text}"
    );
    let text = stdout(&nabla(&["hessian", "x^2 - y^2", "--latex"]));
    assert_eq!(
        text.trim(),
        "\\nabla^2 f = \\begin{pmatrix} 2 & 0 \\\\ 0 & -2 \\end{pmatrix}"
    );
    let text = stdout(&nabla(&[
        "integrate",
        "x^2",
        "--from",
        "0",
        "--to",
        "1",
        "--latex",
    ]));
    assert_eq!(text.trim(), "\\int_{0}^{1} x^{2} \\, dx = \\frac{1}{3}");
    let text = stdout(&nabla(&["integrate", "2", "--latex"]));
    assert_eq!(text.trim(), "\\int 2 \\, dx = 2 x + C");
    let text = stdout(&nabla(&[
        "taylor", "exp(x)", "--at", "x=0", "--order", "2", "--latex",
    ]));
    assert_eq!(text.trim(), "T_{2}(x) = \\frac{x^{2}}{2} + x + 1");
}

/// The words of a README command line, with '…' quoting as a shell reads it.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quoted, mut started) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, started) = (!quoted, true),
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            other => {
                word.push(other);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[test]
fn the_readme_calculus_examples_print_what_the_readme_shows() {
    for name in [
        "calculus-functions",
        "calculus-partial-fractions",
        "calculus-remainder",
        "calculus-latex-steps",
    ] {
        let section = common::readme_section(name);
        let mut lines = section.lines().peekable();
        let mut ran = 0;
        while let Some(line) = lines.next() {
            let Some(command) = line.strip_prefix("$ ") else {
                continue;
            };
            let words = shell_words(command);
            assert_eq!(words[0], "nabla", "{command}");
            let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
            let out = nabla(&args);
            assert!(out.status.success(), "{command}: {}", stderr(&out));
            let mut shown = Vec::new();
            while let Some(l) = lines.next_if(|l| !l.is_empty() && !l.starts_with("```")) {
                shown.push(l);
            }
            assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), shown, "{command}");
            ran += 1;
        }
        assert!(ran > 0, "{name}");
    }
}

#[test]
fn grad_at_a_point_written_with_constants_shows_exact_values() {
    // sin(pi/6) = 1/2 and cos(pi/6) = sqrt(3)/2, beside their f64 values.
    let out = nabla(&["grad", "sin(x)", "--at", "x=pi/6"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let sixth = std::f64::consts::PI / 6.0;
    for line in [
        format!("at x = pi/6 ≈ {sixth}:"),
        format!("f = 1/2 ≈ {}", sixth.sin()),
        format!("∂f/∂x = sqrt(3)/2 ≈ {}", sixth.cos()),
        format!("∇f = ({})", sixth.cos()),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // ln(e) = 1 exactly in f64 too, so no second form; d/dx ln(x) = 1/x at e is 1/e.
    let text = stdout(&nabla(&["grad", "ln(x)", "--at", "x=e"]));
    let e = std::f64::consts::E;
    assert!(text.lines().any(|l| l == "f = 1"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == format!("∂f/∂x = 1/e ≈ {}", 1.0 / e)),
        "{text}"
    );
    // x^2*y at (sqrt(2)/2, 2*pi): f = pi, ∂x = 2xy = 2*sqrt(2)*pi, ∂y = x^2 = 1/2.
    let v = json(&["grad", "x^2*y", "--at", "x=sqrt(2)/2,y=2*pi", "--json"]);
    assert_eq!(v["exact"]["at"]["x"], "sqrt(2)/2");
    assert_eq!(v["exact"]["at"]["y"], "2*pi");
    assert_eq!(v["exact"]["value"], "pi");
    assert_eq!(v["exact"]["gradient"]["y"], "1/2");
    let gx = v["exact"]["gradient"]["x"].as_str().unwrap();
    let back = nabla::calculus::parse(gx).unwrap().eval(&[]).unwrap();
    assert!(
        (back - 2.0 * 2f64.sqrt() * std::f64::consts::PI).abs() < 1e-12,
        "{gx}"
    );
    let x = 2f64.sqrt() / 2.0;
    assert!((v["value"].as_f64().unwrap() - x * x * 2.0 * std::f64::consts::PI).abs() < 1e-15);
    // sin + cos at 2*pi: 1 and 1, though f64 gives 0.9999999999999998.
    let text = stdout(&nabla(&["grad", "sin(x) + cos(x)", "--at", "x=2*pi"]));
    assert!(text.lines().any(|l| l.starts_with("f = 1 ≈ ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("∂f/∂x = 1")), "{text}");
    // Plain numbers print as before, and JSON has no "exact" for them.
    let v = json(&["grad", "x^2", "--at", "x=3", "--json"]);
    assert!(v.get("exact").is_none(), "{v}");
    // Commas inside a value's parentheses do not split the point.
    let text = stdout(&nabla(&["grad", "x + y", "--at", "x=max(1, 2),y=0.5"]));
    assert!(text.lines().any(|l| l == "f = 2.5"), "{text}");
    // Values with variables, undefined or unparsable values are usage errors.
    bad(
        &["grad", "x*y", "--at", "x=y,y=1"],
        2,
        "has the variable 'y'",
    );
    bad(
        &["grad", "x", "--at", "x=ln(0)"],
        2,
        "ln needs a positive argument",
    );
    bad(&["grad", "x", "--at", "x=1/0"], 2, "division by zero");
    bad(
        &["grad", "x", "--at", "x=sin("],
        2,
        "not a number or an expression",
    );
}

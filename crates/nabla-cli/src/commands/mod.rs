//! The subcommands of `nabla`, one module each, and the error type they share.
//!
//! Each module exports `Args` (a `clap::Args`) and `pub fn run(args: Args) -> Result<(), CliError>`.

pub mod cascade;
pub mod convert;
pub mod critical;
pub mod eval;
pub mod explain;
pub mod export;
pub mod grad;
pub mod gradcheck;
pub mod graph;
pub mod hessian;
pub mod inspect;
pub mod integrate;
pub mod minimize;
pub mod plot;
pub mod predict;
pub mod taylor;
pub mod train;

use std::collections::BTreeMap;

use nabla::calculus::{parse, Expr};

/// Exit code for malformed expressions and flags.
pub const EXIT_USAGE: i32 = 2;
/// Exit code for failures on well-formed input (divergence, evaluation failure).
pub const EXIT_FAILURE: i32 = 1;

/// A failed command: `main` prints `error: {message}` on stderr and exits with `code`.
/// The message may continue on further lines (e.g. the input with a caret under a column).
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

impl CliError {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }

    /// A failure on valid input (exit code 1).
    pub fn failure(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: EXIT_FAILURE,
        }
    }
}

/// `text` on its own line, indented by two, and a caret under the 1-based `column`.
pub fn caret(text: &str, column: usize) -> String {
    format!("\n  {text}\n  {}^", " ".repeat(column.saturating_sub(1)))
}

/// An expression and, optionally, a point to evaluate at (`grad`, `hessian`).
#[derive(clap::Args, Debug)]
pub struct ExprAt {
    /// The expression, e.g. 'x^2*y + x*y*z + z^2'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// Evaluate at this point, e.g. x=1,y=2,z=3 (every variable needed); a value may be an
    /// expression of numbers, pi and e (x=pi/6, y=sqrt(2)/2), and grad then shows exact values.
    #[arg(long, value_name = "POINT")]
    pub at: Option<String>,
}

/// Parses the expression argument; errors name the column and show a caret under it.
pub fn parse_expr(input: &str) -> Result<Expr, CliError> {
    parse(input).map_err(|err| match &err {
        nabla::Error::Parse { column, .. } => {
            CliError::usage(format!("in expression: {err}{}", caret(input, *column)))
        }
        other => CliError::usage(format!("in expression: {other}")),
    })
}

/// Parses a point `x=1,y=-2.5` given to `flag`; every variable of `variables` must get a value
/// and no other name may appear.
pub fn parse_point(
    flag: &str,
    text: &str,
    variables: &[String],
) -> Result<BTreeMap<String, f64>, CliError> {
    Ok(parse_point_exact(flag, text, variables)?.values)
}

/// A point read by [`parse_point_exact`]: the f64 value of each variable and, where it was
/// written as an expression (`pi/6`, `sqrt(2)/2`, `e`), that expression simplified.
pub struct ExactPoint {
    pub values: BTreeMap<String, f64>,
    pub exact: BTreeMap<String, Expr>,
}

/// The parts of `text` between commas outside parentheses (`x=max(1, 2),y=3` has two).
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth <= 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// As [`parse_point`], but a value may be any expression without variables (`x=pi/6`,
/// `y=sqrt(2)/2`, `z=2*pi`, `t=e`): it is evaluated in f64, and kept exactly (simplified)
/// when it is not a plain number.
pub fn parse_point_exact(
    flag: &str,
    text: &str,
    variables: &[String],
) -> Result<ExactPoint, CliError> {
    let mut point = BTreeMap::new();
    let mut exact = BTreeMap::new();
    let mut offset = 0;
    for part in split_top_level(text) {
        let column = offset + 1 + (part.len() - part.trim_start().len());
        offset += part.chars().count() + 1;
        let part = part.trim();
        let Some((name, value)) = part.split_once('=') else {
            return Err(CliError::usage(format!(
                "{flag} {text}: expected name=value at column {column}, found '{part}'{}",
                caret(text, column)
            )));
        };
        let (name, value_text) = (name.trim(), value.trim());
        let value_column = column + part.find('=').unwrap_or(0) + 1;
        if !variables.iter().any(|v| v == name) {
            return Err(CliError::usage(format!(
                "{flag} {text}: '{name}' at column {column} is not a variable of the expression \
                 (variables: {}){}",
                if variables.is_empty() {
                    "none".to_string()
                } else {
                    variables.join(", ")
                },
                caret(text, column)
            )));
        }
        let not_finite = || {
            CliError::usage(format!(
                "{flag} {text}: value '{value_text}' for {name} at column {value_column} is \
                 not a finite number{}",
                caret(text, value_column)
            ))
        };
        let value: f64 = match value_text.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            Ok(_) => return Err(not_finite()),
            Err(_) => {
                let e = parse(value_text).map_err(|err| {
                    CliError::usage(format!(
                        "{flag} {text}: value '{value_text}' for {name} at column \
                         {value_column} is not a number or an expression: {err}{}",
                        caret(text, value_column)
                    ))
                })?;
                let names = e.variables();
                if !names.is_empty() {
                    return Err(CliError::usage(format!(
                        "{flag} {text}: value '{value_text}' for {name} at column \
                         {value_column} has the variable '{}': a value is a number or an \
                         expression of numbers, pi and e{}",
                        names[0],
                        caret(text, value_column)
                    )));
                }
                let v = match e.eval_checked(&[]) {
                    Ok(v) if v.is_finite() => v,
                    Ok(_) => return Err(not_finite()),
                    Err(err) => {
                        return Err(CliError::usage(format!(
                            "{flag} {text}: value '{value_text}' for {name} at column \
                             {value_column}: {err}{}",
                            caret(text, value_column)
                        )))
                    }
                };
                exact.insert(name.to_string(), nabla::calculus::simplify(&e));
                v
            }
        };
        if point.insert(name.to_string(), value).is_some() {
            return Err(CliError::usage(format!(
                "{flag} {text}: {name} is given twice (column {column}){}",
                caret(text, column)
            )));
        }
    }
    if let Some(missing) = variables.iter().find(|v| !point.contains_key(*v)) {
        return Err(CliError::usage(format!(
            "{flag} {text}: no value for variable '{missing}' (variables: {})",
            variables.join(", ")
        )));
    }
    Ok(ExactPoint {
        values: point,
        exact,
    })
}

impl ExactPoint {
    /// `e` at the point, exactly: every variable replaced by its exact value (or its number)
    /// and simplified. `None` when no value was written as an expression.
    pub fn exact_value(&self, e: &Expr) -> Option<Expr> {
        if self.exact.is_empty() {
            return None;
        }
        let mut out = e.clone();
        for (name, v) in &self.values {
            let value = self.exact.get(name).cloned().unwrap_or(Expr::Num(*v));
            out = nabla::calculus::substitute(&out, name, &value);
        }
        Some(nabla::calculus::simplify(&out))
    }

    /// `x = pi/6 ≈ 0.5235987755982988, y = 2`.
    pub fn show(&self) -> String {
        self.values
            .iter()
            .map(|(name, v)| match self.exact.get(name) {
                Some(e) => format!("{name} = {}", with_value(e, *v)),
                None => format!("{name} = {v}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `exact ≈ v`, or just `v` when the exact form prints as the number.
pub fn with_value(exact: &Expr, v: f64) -> String {
    let shown = exact.to_string();
    if shown == v.to_string() {
        shown
    } else {
        format!("{shown} ≈ {v}")
    }
}

/// Formats a point as `x = 1, y = 2`.
pub fn show_point(point: &BTreeMap<String, f64>) -> String {
    point
        .iter()
        .map(|(name, v)| format!("{name} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints a JSON value, mapping the (impossible in practice) serialisation error.
pub fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// The start of a calculus command's JSON object: the expression as read, then `key` (the
/// variables it runs over).
pub fn expr_json(
    expr: &impl std::fmt::Display,
    key: &str,
    value: serde_json::Value,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    out.insert("expr".into(), serde_json::Value::String(expr.to_string()));
    out.insert(key.into(), value);
    out
}

/// A number for JSON: non-finite values (which JSON cannot hold) become null.
pub fn json_number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// A number for the calculus commands' JSON: finite values as numbers, and the values JSON
/// cannot hold as the strings `"nan"`, `"inf"` and `"-inf"`, never a silent null.
pub fn json_real(v: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(v) {
        Some(n) => serde_json::Value::Number(n),
        None if v.is_nan() => serde_json::Value::from("nan"),
        None if v > 0.0 => serde_json::Value::from("inf"),
        None => serde_json::Value::from("-inf"),
    }
}

/// A point for JSON: `{"x": 1.0, ...}` (non-finite values as in [`json_real`]).
pub fn json_point(point: &BTreeMap<String, f64>) -> serde_json::Value {
    serde_json::Value::Object(
        point
            .iter()
            .map(|(k, v)| (k.clone(), json_real(*v)))
            .collect(),
    )
}

/// A saved model and the data `eval` and `predict` run it on.
#[derive(clap::Args, Debug)]
pub struct ModelInput {
    /// The model file (from `nabla train`).
    #[arg(long, value_name = "MODEL")]
    pub model: std::path::PathBuf,
    /// The rows: a CSV with the model's feature columns (for `eval` also its target column),
    /// builtin:NAME or mnist:DIR (its t10k files).
    #[arg(long, value_name = "SOURCE")]
    pub data: String,
    /// The target column (default: the one the model was trained on); `predict` drops it when
    /// the data has it.
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
}

impl ModelInput {
    /// The model, its metadata and the data prepared for it (the test rows of a source that
    /// has them); `target_required`: the data must have the target column.
    pub fn load(
        &self,
        target_required: bool,
    ) -> Result<
        (
            nabla::nn::Sequential,
            nabla::io::ModelMeta,
            crate::pipeline::ModelData,
        ),
        CliError,
    > {
        let (net, meta) = crate::pipeline::load_model(&self.model)?;
        let target = self.target.as_deref();
        let md = crate::pipeline::load_for_model(&self.data, target, &meta, target_required, true)?;
        Ok((net, meta, md))
    }
}

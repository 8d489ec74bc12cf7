//! The one error type of the library. Every failure a caller can cause (a shape that does not fit,
//! a bad file, a bad parameter) comes back as a value of [`Error`]; a panic inside nabla is a bug.

use std::path::PathBuf;

/// Result with nabla's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in nabla, each variant naming what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two shapes that an operation cannot combine.
    #[error("shape mismatch in {op}: lhs {lhs:?}, rhs {rhs:?}")]
    ShapeMismatch {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
    },
    /// One shape that an operation cannot accept.
    #[error("invalid shape in {op}: {msg} (shape {shape:?})")]
    Shape {
        op: &'static str,
        shape: Vec<usize>,
        msg: String,
    },
    /// An axis outside the tensor's rank.
    #[error("axis {axis} out of range in {op} for a tensor of rank {rank}")]
    Axis {
        op: &'static str,
        axis: usize,
        rank: usize,
    },
    /// A typed expression that does not parse; `column` is 1-based.
    #[error("parse error at column {column}: {msg}")]
    Parse {
        input: String,
        column: usize,
        msg: String,
    },
    /// Evaluating an expression failed (unknown variable, missing value, ...).
    #[error("{0}")]
    Eval(String),
    /// An expression evaluated outside its domain: `expr` is the offending subexpression
    /// (`ln(x)`, `1/(x - 1)`), `msg` says why (`ln needs a positive argument, got -1`).
    #[error("{expr} is undefined: {msg}")]
    Domain { expr: String, msg: String },
    /// Misuse of the autograd engine (backward on a non-scalar, on a value without gradient, ...).
    #[error("autograd: {0}")]
    Autograd(String),
    /// A second derivative ([`crate::autograd::Var::grad_graph`]) passed through an op whose
    /// derivative rule exists only as a tensor computation, not as graph operations that can be
    /// differentiated again (a recorded network layer, for example).
    #[error("autograd: {op} has no double-backward rule, so its gradient cannot be differentiated again")]
    NoDoubleBackward { op: &'static str },
    /// A parameter out of its domain (learning rate, batch size, dropout probability, ...).
    #[error("invalid {name}: {msg}")]
    Param { name: String, msg: String },
    /// Bad data in a file or data source. `line` and `column` are 1-based when known.
    #[error("{}", fmt_data(.source_name, .line, .column, .msg))]
    Data {
        source_name: String,
        line: Option<usize>,
        column: Option<String>,
        msg: String,
    },
    /// A layer of an architecture string ([`crate::nn::Architecture`]) that does not parse or
    /// cannot take the shape that reaches it. `position` is 1-based, `layer` the layer as
    /// written, `shape` the row shape that reaches it (for shape errors).
    #[error("layer {position} '{layer}': {msg}")]
    Architecture {
        position: usize,
        layer: String,
        shape: Option<Vec<usize>>,
        msg: String,
    },
    /// A model file or model description that is wrong (corrupt, foreign, mismatched).
    #[error("model {path}: {msg}")]
    Model { path: String, msg: String },
    /// A model that a file format cannot express (e.g. a custom layer in ONNX).
    #[error("cannot export to {format}: {msg}")]
    Export { format: &'static str, msg: String },
    /// Training produced a non-finite loss or gradient.
    #[error("training diverged at epoch {epoch}, batch {batch}: {msg}")]
    Diverged {
        epoch: usize,
        batch: usize,
        msg: String,
    },
    /// An operating-system error on a file.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn fmt_data(source: &str, line: &Option<usize>, column: &Option<String>, msg: &str) -> String {
    let mut s = source.to_string();
    if let Some(l) = line {
        s.push_str(&format!(", line {l}"));
    }
    if let Some(c) = column {
        s.push_str(&format!(", column {c}"));
    }
    s.push_str(": ");
    s.push_str(msg);
    s
}

impl Error {
    /// Shorthand for [`Error::Param`].
    pub fn param(name: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Param {
            name: name.into(),
            msg: msg.into(),
        }
    }

    /// Shorthand for [`Error::Data`] without a line or column.
    pub fn data(source_name: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Data {
            source_name: source_name.into(),
            line: None,
            column: None,
            msg: msg.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

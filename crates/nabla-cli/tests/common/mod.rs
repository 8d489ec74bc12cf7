//! Helpers shared by the CLI's integration tests: run the built `nabla` binary and read what it
//! printed.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A small deterministic generator for synthetic data.
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
}

/// Run `nabla` with `args`.
pub fn nabla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .output()
        .expect("run nabla")
}

/// A fresh, empty folder for one test, unique to this test process.
/// Run nabla with the words of `line` (split on white space), each `{}` word replaced by the
/// next of `values` (paths and texts that may hold spaces).
pub fn nabla_cmd(line: &str, values: &[&str]) -> Output {
    let mut values = values.iter();
    let args: Vec<&str> = line
        .split_whitespace()
        .map(|w| match w {
            "{}" => *values.next().expect("a value for each {} of the line"),
            w => w,
        })
        .collect();
    assert!(values.next().is_none(), "more values than {{}} in: {line}");
    nabla(&args)
}

pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nabla-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o`, after checking that the command succeeded (the message shows both streams).
pub fn ok(o: &Output) -> &Output {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    o
}

/// The JSON object a successful command printed on stdout.
pub fn json_of(o: &Output) -> Value {
    serde_json::from_str(&stdout(ok(o))).expect("JSON on stdout")
}

/// True (with a note) when NABLA_SKIP_PYTHON=1 asks to skip the Python checks.
pub fn skip_python() -> bool {
    let skip = std::env::var("NABLA_SKIP_PYTHON").as_deref() == Ok("1");
    if skip {
        eprintln!("NABLA_SKIP_PYTHON=1: skipping the Python check");
    }
    skip
}

/// A fresh [`tmpdir`] for a test of the Python check, or `None` when the check is skipped.
pub fn python_tmpdir(tag: &str) -> Option<PathBuf> {
    (!skip_python()).then(|| tmpdir(tag))
}

/// A Python script under tests/python that checks a model against `nabla predict`'s output,
/// run with the interpreter `$NABLA_PYTHON` (default `python3`).
pub struct PythonCheck {
    /// The script's file name.
    pub script: &'static str,
    /// The packages it needs, for the message when it fails.
    pub needs: &'static str,
}

/// tests/python/check_model.py: MODEL.safetensors DATA PREDICTIONS (from `predict --proba`).
pub const CHECK_MODEL: PythonCheck = PythonCheck {
    script: "check_model.py",
    needs: "numpy and safetensors",
};

/// tests/python/check_onnx.py: MODEL.onnx DATA PREDICTIONS (from `predict [--proba]`).
pub const CHECK_ONNX: PythonCheck = PythonCheck {
    script: "check_onnx.py",
    needs: "onnx and onnxruntime",
};

impl PythonCheck {
    /// Run the script on a model, the data it predicted and the predictions.
    pub fn run(&self, model: &Path, data: &Path, predictions: &Path) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/python")
            .join(self.script);
        let python = std::env::var("NABLA_PYTHON").unwrap_or_else(|_| "python3".into());
        Command::new(&python)
            .arg(script)
            .args([model, data, predictions])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {python} ({e}); set NABLA_SKIP_PYTHON=1 to skip")
            })
    }

    /// [`PythonCheck::run`], asserting that the check passed; what it printed.
    pub fn passes(&self, model: &Path, data: &Path, predictions: &Path) -> String {
        let o = self.run(model, data, predictions);
        assert!(
            o.status.success(),
            "the Python check {} failed (run .ci/install-test-deps for {}, or set \
             NABLA_SKIP_PYTHON=1):\n{}{}",
            self.script,
            self.needs,
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }
}

/// [`CHECK_MODEL`] run on a model, the data it predicted and the `predict --proba` output.
pub fn check_model_py(model: &Path, data: &Path, predictions: &Path) -> Output {
    CHECK_MODEL.run(model, data, predictions)
}

/// [`CHECK_MODEL`], asserting that the check passed; what it printed.
pub fn python_check_passes(model: &Path, data: &Path, predictions: &Path) -> String {
    CHECK_MODEL.passes(model, data, predictions)
}

/// A copy of the CSV `path` at `out` with the number in field `field` (0-based) of line `line`
/// (0-based, the header being line 0) moved by `by`: a prediction a check must reject.
pub fn with_number_moved(path: &Path, line: usize, field: usize, by: f64, out: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<String> = lines[line].split(',').map(String::from).collect();
    let v: f64 = fields[field].parse().unwrap();
    fields[field] = (v + by).to_string();
    lines[line] = fields.join(",");
    std::fs::write(out, lines.join("\n") + "\n").unwrap();
}

/// The README's section between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
pub fn readme_section(name: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    readme
        .split(&format!("<!-- {name}:begin -->"))
        .nth(1)
        .and_then(|s| s.split(&format!("<!-- {name}:end -->")).next())
        .unwrap_or_else(|| panic!("README has no section '{name}'"))
        .to_string()
}

//! Helpers shared by the CLI's integration tests: run the built `nabla` binary and read what it
//! printed.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

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

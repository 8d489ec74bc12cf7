//! The expression parser, then what `nabla grad` does with a parsed expression: the simplified
//! expression, every simplified partial derivative (with and without the derivation steps),
//! their printed form read back, and their values at a point.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use nabla::calculus::{derivative, diff_with_steps, parse, simplify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = parse(text) else {
        return;
    };
    let variables = expr.variables();
    let point: BTreeMap<String, f64> = variables.iter().map(|v| (v.clone(), 0.75)).collect();
    let _ = expr.eval(&point);
    let _ = parse(&simplify(&expr).to_string());
    for v in &variables {
        let d = derivative(&expr, v);
        let _ = parse(&d.to_string());
        let _ = d.eval(&point);
        let (_, steps) = diff_with_steps(&expr, v);
        for step in &steps {
            let _ = step.to_string();
        }
    }
});

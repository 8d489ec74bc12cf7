//! Every parser the fuzzers under `fuzz/` drive, driven here on stable by proptest: arbitrary
//! bytes or strings, and the fuzzers' seed inputs (`fuzz/corpus/<target>/seed-*`) with bytes
//! overwritten and the end cut off. Each entry point must return `Ok` or a typed `Err`; a
//! panic fails the test (proptest reports it with the shrunk input). The fuzzers search far
//! longer (README, "Fuzzing"); this keeps every parser covered where there is no nightly.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use nabla::calculus::{derivative, parse, simplify};
use nabla::data::{
    load_csv_bytes, load_fann_bytes, load_idx_pair_bytes, write_csv, write_fann, LoadOptions,
    TaskChoice,
};
use nabla::io::parse_safetensors;
use nabla::nn::Architecture;
use nabla::train::Checkpoint;

macro_rules! seeds {
    ($target:literal: $($file:literal),+ $(,)?) => {
        &[$(include_bytes!(concat!("../../../fuzz/corpus/", $target, "/", $file))),+]
    };
}

const EXPR_SEEDS: &[&[u8]] =
    seeds!("expr": "seed-1", "seed-2", "seed-3", "seed-4", "seed-5", "seed-6", "seed-7", "seed-8");
const CSV_SEEDS: &[&[u8]] =
    seeds!("csv": "seed-xor.csv", "seed-regression.csv", "seed-classes.csv", "seed-tab-quoted.csv");
const IDX_SEEDS: &[&[u8]] = seeds!("idx": "seed-2x3x3", "seed-3x2x2-gzip", "seed-1x28x28");
const FANN_SEEDS: &[&[u8]] =
    seeds!("fann": "seed-xor.train", "seed-onehot.train", "seed-regression.train");
const MODEL_SEEDS: &[&[u8]] = seeds!("model":
    "seed-mlp-xor.safetensors",
    "seed-mlp-regression.safetensors",
    "seed-mlp-fann.safetensors",
    "seed-cnn-digits.safetensors",
    "seed-cnn-batchnorm.safetensors",
);
const CHECKPOINT_SEEDS: &[&[u8]] =
    seeds!("checkpoint": "seed-adam-xor.safetensors", "seed-finished-model.safetensors");
const ARCH_SEEDS: &[&[u8]] = seeds!("arch": "seed-1", "seed-2", "seed-3", "seed-4", "seed-5");

/// A seed with up to 8 bytes overwritten and possibly its end cut off, or arbitrary bytes.
fn bytes_near(seeds: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        0..seeds.len(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        any::<Option<usize>>(),
    )
        .prop_map(move |(seed, edits, cut)| {
            let mut bytes = seeds[seed].to_vec();
            for (at, value) in edits {
                let n = bytes.len();
                bytes[at % n] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            bytes
        });
    prop_oneof![
        3 => mutated,
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Like [`bytes_near`] for text: mutated seeds that are still UTF-8, strings over the
/// grammar's characters, and arbitrary strings.
fn text_near(
    seeds: &'static [&'static [u8]],
    alphabet: &'static str,
) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => bytes_near(seeds).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        2 => alphabet,
        1 => any::<String>(),
    ]
}

/// Just under the parser's nesting limit, at it, and past it: an error, not a stack overflow.
#[test]
fn deeply_nested_expressions_are_errors_or_values() {
    for depth in [150, 199, 200, 201, 5_000, 100_000] {
        for (open, close) in [("(", ")"), ("sin(", ")"), ("-(", ")")] {
            let text = format!("{}x{}", open.repeat(depth), close.repeat(depth));
            if let Ok(expr) = parse(&text) {
                let _ = derivative(&expr, "x");
            }
        }
        let _ = parse(&"-".repeat(depth));
        let _ = parse(&format!("x{}", "^x".repeat(depth)));
    }
    assert!(parse(&format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000))).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn expression_parser_simplifier_and_derivative(text in text_near(EXPR_SEEDS, "[-+*/^()xyz0-9.e ,a-z]{0,48}")) {
        if let Ok(expr) = parse(&text) {
            let point: BTreeMap<String, f64> =
                expr.variables().into_iter().map(|v| (v, 0.75)).collect();
            let _ = expr.eval(&point);
            let _ = parse(&simplify(&expr).to_string());
            for v in expr.variables() {
                let d = derivative(&expr, &v);
                let _ = d.eval(&point);
            }
        }
    }

    #[test]
    fn csv_reader(bytes in bytes_near(CSV_SEEDS)) {
        for task in [TaskChoice::Auto, TaskChoice::Regress] {
            let opts = LoadOptions { task, ..LoadOptions::default() };
            if let Ok(ds) = load_csv_bytes(&bytes, "fuzz.csv", &opts) {
                let _ = write_csv(&ds);
            }
        }
    }

    #[test]
    fn idx_reader(bytes in bytes_near(IDX_SEEDS)) {
        // As the fuzz target: two little-endian bytes say where the images file ends.
        if bytes.len() >= 2 {
            let rest = &bytes[2..];
            let split = usize::from(u16::from_le_bytes([bytes[0], bytes[1]])) % (rest.len() + 1);
            let (images, labels) = rest.split_at(split);
            let _ = load_idx_pair_bytes(images, "images", labels, "labels");
        }
    }

    #[test]
    fn fann_reader(bytes in bytes_near(FANN_SEEDS)) {
        for task in [TaskChoice::Auto, TaskChoice::Regress] {
            let opts = LoadOptions { task, ..LoadOptions::default() };
            if let Ok(fann) = load_fann_bytes(&bytes, "fuzz.train", &opts) {
                let _ = write_fann(&fann.data);
            }
        }
    }

    #[test]
    fn model_loader(bytes in bytes_near(MODEL_SEEDS)) {
        let path = Path::new("fuzz.safetensors");
        if let Ok(file) = parse_safetensors(path, &bytes) {
            let _ = file.build_network(path);
        }
    }

    #[test]
    fn checkpoint_loader(bytes in bytes_near(CHECKPOINT_SEEDS)) {
        let path = Path::new("fuzz.ckpt.safetensors");
        if let Ok(file) = parse_safetensors(path, &bytes) {
            let _ = Checkpoint::from_file(file, path);
        }
    }

    #[test]
    fn arch_parser(text in text_near(ARCH_SEEDS, "[a-z0-9(),=x. _]{0,48}")) {
        if let Ok(arch) = Architecture::parse(&text) {
            for (shape, outputs) in [(&[4][..], 3), (&[1, 8, 8][..], 10), (&[3, 5, 5][..], 1)] {
                let _ = arch.resolve(shape, outputs);
            }
        }
    }
}

/// The seeds themselves are valid inputs, so the mutations above start from files that load.
#[test]
fn every_seed_loads() {
    for seed in EXPR_SEEDS {
        parse(std::str::from_utf8(seed).unwrap()).unwrap();
    }
    for seed in CSV_SEEDS {
        load_csv_bytes(seed, "seed.csv", &LoadOptions::default()).unwrap();
    }
    for seed in IDX_SEEDS {
        let rest = &seed[2..];
        let split = usize::from(u16::from_le_bytes([seed[0], seed[1]]));
        let (images, labels) = rest.split_at(split);
        load_idx_pair_bytes(images, "images", labels, "labels").unwrap();
    }
    for seed in FANN_SEEDS {
        load_fann_bytes(seed, "seed.train", &LoadOptions::default()).unwrap();
    }
    let path = Path::new("seed.safetensors");
    for seed in MODEL_SEEDS {
        parse_safetensors(path, seed)
            .unwrap()
            .build_network(path)
            .unwrap();
    }
    let checkpoint = parse_safetensors(path, CHECKPOINT_SEEDS[0]).unwrap();
    Checkpoint::from_file(checkpoint, path).unwrap();
    let finished = parse_safetensors(path, CHECKPOINT_SEEDS[1]).unwrap();
    assert!(Checkpoint::from_file(finished, path).is_err());
    for seed in ARCH_SEEDS {
        Architecture::parse(std::str::from_utf8(seed).unwrap()).unwrap();
    }
}

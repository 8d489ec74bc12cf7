//! The CSV reader on arbitrary bytes (delimiter detection, header, task detection), with the
//! default options, forced regression, and prediction's options; a table that loads is written
//! back out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla::data::{load_csv_bytes, write_csv, LoadOptions, TaskChoice};

fuzz_target!(|data: &[u8]| {
    let options = [
        LoadOptions::default(),
        LoadOptions {
            task: TaskChoice::Regress,
            ..LoadOptions::default()
        },
        LoadOptions {
            ignore_target: true,
            target_required: false,
            ..LoadOptions::default()
        },
    ];
    for opts in &options {
        if let Ok(ds) = load_csv_bytes(data, "fuzz.csv", opts) {
            let _ = write_csv(&ds);
        }
    }
});

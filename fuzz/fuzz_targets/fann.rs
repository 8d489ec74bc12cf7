//! The FANN training-data reader on arbitrary bytes (as read from a file, after any gzip); data that
//! loads is written back out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla::data::{load_fann_bytes, write_fann, LoadOptions, TaskChoice};

fuzz_target!(|data: &[u8]| {
    for task in [TaskChoice::Auto, TaskChoice::Regress] {
        let opts = LoadOptions {
            task,
            ..LoadOptions::default()
        };
        if let Ok(fann) = load_fann_bytes(data, "fuzz.train", &opts) {
            let _ = write_fann(&fann.data);
        }
    }
});

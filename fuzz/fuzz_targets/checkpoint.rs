//! The checkpoint loader: safetensors bytes, then the training state, as `train --resume`
//! reads it.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nabla::io::parse_safetensors;
use nabla::train::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.ckpt.safetensors");
    if let Ok(file) = parse_safetensors(path, data) {
        let _ = Checkpoint::from_file(file, path);
    }
});

//! The model-file loader: safetensors bytes, then the network rebuilt from the metadata and
//! loaded with the tensors, as `nabla eval`/`predict`/`inspect` do.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nabla::io::parse_safetensors;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    if let Ok(file) = parse_safetensors(path, data) {
        let _ = file.build_network(path);
    }
});

//! The `--arch` parser, then each parsed architecture resolved for a vector input and for an
//! image input, as `nabla train --arch` does before building the network.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla::nn::Architecture;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(arch) = Architecture::parse(text) else {
        return;
    };
    for (shape, outputs) in [(&[4][..], 3), (&[1, 8, 8][..], 10), (&[3, 5, 5][..], 1)] {
        let _ = arch.resolve(shape, outputs);
    }
});

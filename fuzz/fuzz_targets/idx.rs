//! The IDX reader: an images file and a labels file, each possibly gzip-compressed. The input's
//! first two bytes (little-endian, modulo the remaining length + 1) say where the images file
//! ends and the labels file starts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla::data::load_idx_pair_bytes;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let rest = &data[2..];
    let split = usize::from(u16::from_le_bytes([data[0], data[1]])) % (rest.len() + 1);
    let (images, labels) = rest.split_at(split);
    let _ = load_idx_pair_bytes(images, "fuzz-images", labels, "fuzz-labels");
});

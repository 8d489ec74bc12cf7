//! IDX files (the MNIST and Fashion-MNIST format).
//!
//! Images: big-endian u32 header `0x00000803, count, rows, cols`, then `count·rows·cols` pixel
//! bytes. Labels: `0x00000801, count`, then `count` label bytes. Pixels stay `u8`; a batch
//! turns them into `pixel / 255`.

use std::path::{Path, PathBuf};

use super::gzip::{gunzip, is_gzip, read_maybe_gzip};
use super::{Dataset, Features, LoadedData, Target};
use crate::{Error, Result};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
/// MNIST and Fashion-MNIST both have the ten labels 0..=9.
const N_CLASSES: usize = 10;

/// Load `train-*` (required) and `t10k-*` (optional; both files or neither) from `dir`.
///
/// Each file may be named `train-images-idx3-ubyte` or `train-images.idx3-ubyte`, with or
/// without `.gz` (gzip is recognised by content). Class names are `"0"` to `"9"`; feature names
/// `px0` .. `px{rows·cols-1}`; pixels scale by 1/255.
pub fn load_mnist_dir(dir: &Path) -> Result<LoadedData> {
    let train_images = find_idx_file(dir, "train", "images", 3)?;
    let train_labels = find_idx_file(dir, "train", "labels", 1)?;
    let train_paths = match (train_images, train_labels) {
        (Some(i), Some(l)) => (i, l),
        (i, _) => {
            let missing = if i.is_none() { "images" } else { "labels" };
            return Err(Error::data(
                dir.display().to_string(),
                format!(
                    "no training {missing} file (looked for train-{missing}-idx{n}-ubyte[.gz] and train-{missing}.idx{n}-ubyte[.gz])",
                    n = if missing == "images" { 3 } else { 1 }
                ),
            ));
        }
    };
    let test_images = find_idx_file(dir, "t10k", "images", 3)?;
    let test_labels = find_idx_file(dir, "t10k", "labels", 1)?;
    let test_paths = match (test_images, test_labels) {
        (Some(i), Some(l)) => Some((i, l)),
        (None, None) => None,
        (Some(p), None) | (None, Some(p)) => return Err(Error::data(
            p.display().to_string(),
            "the t10k images and labels come in pairs, but the other file of the pair is missing",
        )),
    };
    // A gzip stream inflates on one core; the training and test files inflate side by side.
    let (train, test) = rayon::join(
        || load_images(&train_paths.0, &train_paths.1),
        || {
            test_paths
                .as_ref()
                .map(|(i, l)| load_idx_pair(i, l))
                .transpose()
        },
    );
    let ((train, [rows, cols]), test) = (train?, test?);
    Ok(LoadedData {
        train,
        test,
        image_shape: Some(vec![1, rows, cols]),
        task_reason: None,
    })
}

/// The first existing name among the accepted spellings of one IDX file.
fn find_idx_file(dir: &Path, part: &str, kind: &str, dims: u8) -> Result<Option<PathBuf>> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
        ));
    }
    let bases = [
        format!("{part}-{kind}-idx{dims}-ubyte"),
        format!("{part}-{kind}.idx{dims}-ubyte"),
    ];
    for base in &bases {
        for suffix in [".gz", ""] {
            let p = dir.join(format!("{base}{suffix}"));
            if p.is_file() {
                return Ok(Some(p));
            }
        }
    }
    Ok(None)
}

/// Load one images file and its labels file into a [`Dataset`] with `u8` features.
pub fn load_idx_pair(images_path: &Path, labels_path: &Path) -> Result<Dataset> {
    Ok(load_images(images_path, labels_path)?.0)
}

/// [`load_idx_pair`] on the contents of the two files (each may be gzip-compressed, recognised
/// by content); `images_name` and `labels_name` are what errors name. For callers that hold
/// the bytes already (and for the fuzzers, which must not touch the disk).
pub fn load_idx_pair_bytes(
    images: &[u8],
    images_name: &str,
    labels: &[u8],
    labels_name: &str,
) -> Result<Dataset> {
    let inflate = |bytes: &[u8], name: &str| {
        if is_gzip(bytes) {
            gunzip(bytes, name)
        } else {
            Ok(bytes.to_vec())
        }
    };
    let images = inflate(images, images_name)?;
    let labels = inflate(labels, labels_name)?;
    Ok(idx_pair(
        images,
        images_name.to_string(),
        labels,
        labels_name.to_string(),
    )?
    .0)
}

/// [`load_idx_pair`], and the images' rows and columns.
fn load_images(images_path: &Path, labels_path: &Path) -> Result<(Dataset, [usize; 2])> {
    let images_name = images_path.display().to_string();
    let labels_name = labels_path.display().to_string();
    let images = read_maybe_gzip(images_path)?;
    let labels = read_maybe_gzip(labels_path)?;
    idx_pair(images, images_name, labels, labels_name)
}

/// One images file and its labels file, inflated, into a [`Dataset`] and the image size.
fn idx_pair(
    images: Vec<u8>,
    images_name: String,
    labels: Vec<u8>,
    labels_name: String,
) -> Result<(Dataset, [usize; 2])> {
    let (count, rows, cols, pixels) = parse_images(images, &images_name)?;
    let labels = parse_labels(labels, &labels_name)?;
    if labels.len() != count {
        return Err(Error::data(
            labels_name,
            format!(
                "{} labels, but {images_name} holds {count} images",
                labels.len()
            ),
        ));
    }
    let n_features = rows * cols;
    let ds = Dataset {
        features: Features::U8 {
            data: pixels,
            scale: 1.0 / 255.0,
        },
        n_features,
        feature_names: (0..n_features).map(|i| format!("px{i}")).collect(),
        target: Target::Classes {
            labels,
            class_names: (0..N_CLASSES).map(|i| i.to_string()).collect(),
            name: "label".into(),
        },
        source_name: images_name,
    };
    Ok((ds, [rows, cols]))
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Check that `bytes` is long enough for an IDX header of `header_len` bytes and starts with
/// `magic`; `kind` ("images") and `dimensions` ("3 dimensions") are for the messages.
fn check_header(
    bytes: &[u8],
    name: &str,
    header_len: usize,
    magic: u32,
    kind: &str,
    dimensions: &str,
) -> Result<()> {
    if bytes.len() < header_len {
        return Err(Error::data(
            name,
            format!(
                "{} bytes is too short for an IDX {kind} header ({header_len} bytes)",
                bytes.len()
            ),
        ));
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(Error::data(
            name,
            format!(
                "magic number {found:#010x}, expected {magic:#010x} (IDX u8 {kind}, {dimensions})"
            ),
        ));
    }
    Ok(())
}

/// Check the header and size of an images file; return count, rows, cols and the pixels (the
/// input buffer with its 16-byte header removed, no copy of the pixel data beyond a shift).
pub(crate) fn parse_images(
    mut bytes: Vec<u8>,
    name: &str,
) -> Result<(usize, usize, usize, Vec<u8>)> {
    check_header(&bytes, name, 16, IMAGES_MAGIC, "images", "3 dimensions")?;
    let count = be_u32(&bytes, 4) as usize;
    let rows = be_u32(&bytes, 8) as usize;
    let cols = be_u32(&bytes, 12) as usize;
    if rows == 0 || cols == 0 {
        return Err(Error::data(
            name,
            format!("image size {rows}x{cols} is empty"),
        ));
    }
    let expected = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .and_then(|v| v.checked_add(16));
    if expected != Some(bytes.len()) {
        return Err(Error::data(
            name,
            format!(
                "the header says {count} images of {rows}x{cols} ({} bytes with the header), but the data has {} bytes",
                expected.map_or("too many".to_string(), |e| e.to_string()),
                bytes.len()
            ),
        ));
    }
    bytes.drain(..16);
    Ok((count, rows, cols, bytes))
}

/// Check the header, size and label range of a labels file; return the labels.
pub(crate) fn parse_labels(bytes: Vec<u8>, name: &str) -> Result<Vec<u32>> {
    check_header(&bytes, name, 8, LABELS_MAGIC, "labels", "1 dimension")?;
    let count = be_u32(&bytes, 4) as usize;
    if bytes.len() - 8 != count {
        return Err(Error::data(
            name,
            format!(
                "the header says {count} labels, but the file has {} label bytes",
                bytes.len() - 8
            ),
        ));
    }
    let mut labels = Vec::with_capacity(count);
    for (i, &b) in bytes[8..].iter().enumerate() {
        if b as usize >= N_CLASSES {
            return Err(Error::data(
                name,
                format!("label {b} of item {i} (0-based) is outside 0..=9"),
            ));
        }
        labels.push(b as u32);
    }
    Ok(labels)
}

//! Data sets embedded in the library (see `builtin/README.md` for their provenance).

use super::csv_source::load_csv_bytes;
use super::gzip::gunzip;
use super::{Dataset, LoadOptions, Target};
use crate::{Error, Result};

/// Names accepted after `builtin:`.
pub const BUILTIN_NAMES: [&str; 3] = ["digits", "iris", "xor"];

/// One digit image: 1 channel of 8×8 pixels, row-major in the CSV's 64 columns.
const DIGITS_SHAPE: [usize; 3] = [1, 8, 8];
/// scikit-learn's digits (1797 × 64, classes 0–9), gzip-compressed CSV.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("builtin/digits.csv.gz");
/// scikit-learn's iris (150 × 4, target 0/1/2).
const IRIS_CSV: &str = include_str!("builtin/iris.csv");
/// Exclusive or: `y = x1 XOR x2` for the four points of {0,1}²; classes "0" and "1".
const XOR_CSV: &str = "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n";
/// Iris species in the order of the CSV's 0/1/2 target.
const IRIS_SPECIES: [&str; 3] = ["setosa", "versicolor", "virginica"];

/// The shape of one row of `ds`, loaded from the built-in `name`, when its features are an
/// image: the digits' pixel columns `p0..p63` in order (another target column leaves them
/// an image no longer).
pub(crate) fn image_shape(name: &str, ds: &Dataset) -> Option<Vec<usize>> {
    let pixels = DIGITS_SHAPE.iter().product::<usize>();
    let is_image = name == "digits"
        && ds
            .feature_names
            .iter()
            .eq(&(0..pixels).map(|i| format!("p{i}")).collect::<Vec<_>>());
    is_image.then(|| DIGITS_SHAPE.to_vec())
}

/// Load a built-in by name, applying `opts` as for a CSV file (so `--target` may pick another
/// column, for instance iris petal width as a regression target).
pub(crate) fn load_builtin(name: &str, opts: &LoadOptions) -> Result<Dataset> {
    let source_name = format!("builtin:{name}");
    let mut ds = match name {
        "digits" => {
            let csv = gunzip(DIGITS_CSV_GZ, &source_name)?;
            load_csv_bytes(&csv, &source_name, opts)?
        }
        "iris" => {
            // A model trained on builtin:iris knows the species names; the file holds 0/1/2.
            let species_fixed = opts
                .class_names
                .as_ref()
                .is_some_and(|c| c.iter().map(String::as_str).eq(IRIS_SPECIES));
            if species_fixed {
                let numeric_opts = LoadOptions {
                    class_names: Some(vec!["0".into(), "1".into(), "2".into()]),
                    ..opts.clone()
                };
                let mut ds = load_csv_bytes(IRIS_CSV.as_bytes(), &source_name, &numeric_opts)?;
                name_iris_species(&mut ds);
                return Ok(ds);
            }
            load_csv_bytes(IRIS_CSV.as_bytes(), &source_name, opts)?
        }
        "xor" => load_csv_bytes(XOR_CSV.as_bytes(), &source_name, opts)?,
        _ => {
            return Err(Error::param(
                "data source",
                format!(
                    "unknown built-in '{name}'; available: {}",
                    BUILTIN_NAMES.map(|n| format!("builtin:{n}")).join(", ")
                ),
            ))
        }
    };
    // Name the iris species when the numeric target was read as classes on its own terms.
    if name == "iris" && opts.class_names.is_none() {
        name_iris_species(&mut ds);
    }
    Ok(ds)
}

/// Replace class names 0/1/2 by the species names.
fn name_iris_species(ds: &mut Dataset) {
    if let Target::Classes { class_names, .. } = &mut ds.target {
        if class_names.iter().map(String::as_str).eq(["0", "1", "2"]) {
            *class_names = IRIS_SPECIES.iter().map(|s| s.to_string()).collect();
        }
    }
}

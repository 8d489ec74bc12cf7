//! Feature and target standardisation fitted on training rows.

use serde::{Deserialize, Serialize};

use super::{Dataset, Features, Target};
use crate::{Error, Result};

/// Per-feature affine map `x ↦ (x − mean) / std`, fitted on training data only and stored with
/// a model so that prediction applies the same map.
///
/// `std` is the population standard deviation (divide by n, like scikit-learn's
/// `StandardScaler`); a feature with zero spread gets `std = 1` so it maps to 0 without a
/// division by zero. Statistics are accumulated in f64 and stored as f32.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature over the fitted rows.
    pub mean: Vec<f32>,
    /// Population standard deviation of each feature (1 where it was 0).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fit on every row of `ds` (pass the training subset). Errors when `ds` has no rows.
    pub fn fit(ds: &Dataset) -> Result<Self> {
        let rows: Vec<usize> = (0..ds.len()).collect();
        Self::fit_rows(ds, &rows)
    }

    /// Fit on the rows `rows` of `ds` only. Errors when `rows` is empty. Panics if a row index
    /// is `>= ds.len()`.
    pub fn fit_rows(ds: &Dataset, rows: &[usize]) -> Result<Self> {
        if rows.is_empty() {
            return Err(Error::data(
                &ds.source_name,
                "cannot fit a standardizer on zero rows",
            ));
        }
        let d = ds.n_features;
        let value = |row: usize, j: usize| -> f64 {
            match &ds.features {
                Features::F32(v) => v[row * d + j] as f64,
                Features::U8 { data, scale } => data[row * d + j] as f64 * *scale as f64,
            }
        };
        let n = rows.len() as f64;
        let mut sum = vec![0f64; d];
        for &r in rows {
            for (j, s) in sum.iter_mut().enumerate() {
                *s += value(r, j);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut sq = vec![0f64; d];
        for &r in rows {
            for (j, s) in sq.iter_mut().enumerate() {
                let dev = value(r, j) - mean[j];
                *s += dev * dev;
            }
        }
        let std = sq.iter().map(|&s| population_std(s, n)).collect();
        Ok(Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        })
    }

    /// Number of features the map was fitted on.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Standardise `x` in place: row-major rows of `n_features()` values each. Errors when the
    /// length is not a multiple of `n_features()`.
    pub fn apply_rows(&self, x: &mut [f32]) -> Result<()> {
        let d = self.n_features();
        if x.len().checked_rem(d) != Some(0) {
            return Err(Error::ShapeMismatch {
                op: "Standardizer::apply_rows",
                lhs: vec![d],
                rhs: vec![x.len()],
            });
        }
        for row in x.chunks_exact_mut(d) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }

    /// Standardise every row of `ds` in place; `U8` features become `F32` first. Errors when
    /// the feature counts differ.
    pub fn apply(&self, ds: &mut Dataset) -> Result<()> {
        if ds.n_features != self.n_features() {
            return Err(Error::data(
                &ds.source_name,
                format!(
                    "{} features, but the standardizer was fitted on {}",
                    ds.n_features,
                    self.n_features()
                ),
            ));
        }
        ds.to_f32_features();
        if let Features::F32(x) = &mut ds.features {
            if !x.is_empty() {
                self.apply_rows(x)?;
            }
        }
        Ok(())
    }
}

/// √(Σ(x − mean)² / n) from the sum of squared deviations, or 1 where that is 0.
fn population_std(sum_of_squares: f64, n: f64) -> f32 {
    let sd = (sum_of_squares / n).sqrt();
    if sd > 0.0 {
        sd as f32
    } else {
        1.0
    }
}

/// A regression target is standardised by a [`Standardizer`] with one column per output
/// (population std; a constant output gets `std = 1`), so that a network trains on unit-scale
/// targets and reports predictions in the original units through the inverse map. Values are
/// `rows × outputs`, row-major, `outputs` being the map's column count.
impl Standardizer {
    /// Fit a one-column map on `values` (accumulated in f64). Errors when `values` is empty.
    pub fn fit_values(values: &[f32]) -> Result<Self> {
        Self::fit_columns(values, 1)
    }

    /// Fit a map of `outputs` columns on `values` (`rows × outputs`, accumulated in f64).
    /// Errors when `values` is empty or not a whole number of rows.
    pub fn fit_columns(values: &[f32], outputs: usize) -> Result<Self> {
        if values.is_empty() || outputs == 0 || !values.len().is_multiple_of(outputs) {
            return Err(Error::param(
                "target values",
                format!(
                    "cannot fit a target standardizer on {} values in rows of {outputs}",
                    values.len()
                ),
            ));
        }
        let n = (values.len() / outputs) as f64;
        let mut mean = vec![0f64; outputs];
        for row in values.chunks_exact(outputs) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; outputs];
        for row in values.chunks_exact(outputs) {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (v as f64 - m) * (v as f64 - m);
            }
        }
        Ok(Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var.iter().map(|&s| population_std(s, n)).collect(),
        })
    }

    /// Fit a map with one column per output on the regression target of `ds`; errors unless
    /// it is [`Target::Values`].
    pub fn fit_target(ds: &Dataset) -> Result<Self> {
        match &ds.target {
            Target::Values { values, names } => Self::fit_columns(values, names.len()),
            _ => Err(Error::data(
                &ds.source_name,
                "target scaling needs a regression target",
            )),
        }
    }

    /// `(y − mean) / std` for each value, in place; column `i % columns` of the map for the
    /// `i`-th value.
    pub fn apply_values(&self, values: &mut [f32]) {
        let k = self.mean.len().max(1);
        for row in values.chunks_mut(k) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
    }

    /// Standardise the regression target of `ds` in place; errors unless it is
    /// [`Target::Values`] with as many outputs as the map has columns.
    pub fn apply_target(&self, ds: &mut Dataset) -> Result<()> {
        match &mut ds.target {
            Target::Values { values, names } if names.len() == self.mean.len() => {
                self.apply_values(values);
                Ok(())
            }
            Target::Values { names, .. } => Err(Error::data(
                &ds.source_name,
                format!(
                    "{} target columns, but the target standardizer was fitted on {}",
                    names.len(),
                    self.mean.len()
                ),
            )),
            _ => Err(Error::data(
                &ds.source_name,
                "target scaling needs a regression target",
            )),
        }
    }

    /// `z · std + mean` for each value, in place: back to the original units (column
    /// `i % columns` for the `i`-th value).
    pub fn inverse_values(&self, values: &mut [f32]) {
        let k = self.mean.len().max(1);
        for row in values.chunks_mut(k) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = *v * s + m;
            }
        }
    }

    /// The inverse map of one value of the first column.
    pub fn inverse_value(&self, z: f32) -> f32 {
        let m = self.mean.first().copied().unwrap_or(0.0);
        let s = self.std.first().copied().unwrap_or(1.0);
        z * s + m
    }
}

//! Train/held-out splits: seeded stratified splits and fixed split files.

use std::path::Path;

use super::{Dataset, Target};
use crate::rng::Rng;
use crate::{Error, Result};

/// Split the rows of `ds` into `(train, held)` index lists, both sorted ascending.
///
/// Classification targets are split per class: a class of `c` rows sends `round(c·fraction)`
/// of them (rounding half away from zero) to the held-out side, but never all of them when
/// `c ≥ 2` and none when `c = 1`, so every class stays in training. Which rows go is decided by
/// one `Rng::new(seed)` shuffling each class's rows in turn, classes in label order. Regression
/// targets and data without a target get a plain seeded shuffle split holding out
/// `round(n·fraction)` rows (at most `n - 1`). `fraction = 0` holds out nothing.
///
/// Errors with [`Error::Param`] unless `0 ≤ fraction < 1`.
pub fn stratified_split(
    ds: &Dataset,
    fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    check_fraction(fraction)?;
    let n = ds.len();
    match &ds.target {
        Target::Classes {
            labels,
            class_names,
            ..
        } => Ok(split_by_class(labels, class_names.len(), fraction, seed)),
        Target::Values { .. } | Target::None => Ok(shuffle_split(n, fraction, seed)),
    }
}

/// [`stratified_split`] followed by [`Dataset::subset`] on both sides: `(train, held)`.
pub fn split_dataset(ds: &Dataset, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    let (train, held) = stratified_split(ds, fraction, seed)?;
    Ok((ds.subset(&train), ds.subset(&held)))
}

fn check_fraction(fraction: f64) -> Result<()> {
    if (0.0..1.0).contains(&fraction) {
        Ok(())
    } else {
        Err(Error::param(
            "split fraction",
            format!("{fraction} is not in [0, 1)"),
        ))
    }
}

fn held_count(c: usize, fraction: f64) -> usize {
    if c < 2 {
        return 0;
    }
    ((c as f64 * fraction).round() as usize).min(c - 1)
}

fn split_by_class(
    labels: &[u32],
    n_classes: usize,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (row, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(row);
    }
    let mut rng = Rng::new(seed);
    let mut train = Vec::with_capacity(labels.len());
    let mut held = Vec::new();
    for rows in &mut by_class {
        let k = held_count(rows.len(), fraction);
        rng.shuffle(rows);
        held.extend_from_slice(&rows[..k]);
        train.extend_from_slice(&rows[k..]);
    }
    train.sort_unstable();
    held.sort_unstable();
    (train, held)
}

fn shuffle_split(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rows: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    rng.shuffle(&mut rows);
    let k = held_count(n, fraction);
    let mut held = rows[..k].to_vec();
    let mut train = rows[k..].to_vec();
    train.sort_unstable();
    held.sort_unstable();
    (train, held)
}

/// Read a split file: one 0-based row index per line (surrounding spaces ignored, blank lines
/// skipped), in file order. Errors name the file and the 1-based line of a bad entry.
#[cfg(test)]
pub(crate) fn read_split_file(path: &Path) -> Result<Vec<usize>> {
    Ok(read_split_entries(path)?
        .into_iter()
        .map(|(row, _)| row)
        .collect())
}

/// Entries of a split file with their 1-based line numbers.
fn read_split_entries(path: &Path) -> Result<Vec<(usize, usize)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cell = line.trim();
        if cell.is_empty() {
            continue;
        }
        let row: usize = cell.parse().map_err(|_| Error::Data {
            source_name: name.clone(),
            line: Some(i + 1),
            column: None,
            msg: format!("'{cell}' is not a row index (a non-negative integer)"),
        })?;
        out.push((row, i + 1));
    }
    if out.is_empty() {
        return Err(Error::data(name, "the split file lists no rows"));
    }
    Ok(out)
}

/// Split `ds` by two split files (one 0-based row index per line, blank lines skipped) into `(train, test)`, rows in file
/// order. Every index must be `< ds.len()`; an index repeated within a file or listed in both
/// files is an error (naming the file and line).
pub fn apply_split_files(
    ds: &Dataset,
    train_path: &Path,
    test_path: &Path,
) -> Result<(Dataset, Dataset)> {
    let n = ds.len();
    // 0 = unused, 1 = train, 2 = test.
    let mut owner = vec![0u8; n];
    let mut sides = Vec::with_capacity(2);
    for (path, side) in [(train_path, 1u8), (test_path, 2u8)] {
        let entries = read_split_entries(path)?;
        let name = path.display().to_string();
        let mut rows = Vec::with_capacity(entries.len());
        for (row, line) in entries {
            let fail = |msg: String| Error::Data {
                source_name: name.clone(),
                line: Some(line),
                column: None,
                msg,
            };
            if row >= n {
                return Err(fail(format!(
                    "row index {row} is out of range: {} has {n} rows",
                    ds.source_name
                )));
            }
            match owner[row] {
                0 => owner[row] = side,
                s if s == side => {
                    return Err(fail(format!("row index {row} is listed twice")));
                }
                _ => {
                    return Err(fail(format!(
                        "row index {row} is also in {}",
                        train_path.display()
                    )));
                }
            }
            rows.push(row);
        }
        sides.push(rows);
    }
    Ok((ds.subset(&sides[0]), ds.subset(&sides[1])))
}

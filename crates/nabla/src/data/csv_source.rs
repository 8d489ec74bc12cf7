//! CSV loading.
//!
//! The file is read (and gunzipped) into memory once, then parsed record by record with
//! `csv::ByteRecord`: feature cells are parsed straight from bytes to `f32` without a `String`
//! per cell; target cells are copied into one byte arena and resolved at the end, once the whole
//! column is known.

use std::collections::HashMap;
use std::path::Path;

use super::gzip::read_maybe_gzip;
use super::{Dataset, Features, LoadOptions, Target, TaskChoice};
use crate::{Error, Result};

/// Largest number of distinct integer values that [`TaskChoice::Auto`] still calls classes.
pub(crate) const AUTO_MAX_CLASSES: usize = 20;

/// Load a CSV file (gzip-compressed when its content is gzip; a name ending in `.gz` must be).
///
/// Format:
/// * the first line is a header of column names (surrounding spaces trimmed; an empty name
///   becomes `column_K`, K 1-based; duplicate names are an error);
/// * the delimiter is `,`, `;` or tab, whichever occurs most often in the header line outside
///   quotes (comma on a tie or when none occurs); fields may be double-quoted (`""` is a quote);
/// * blank lines (and lines of spaces only) are skipped; `\n` and `\r\n` line ends both work;
///   a UTF-8 byte-order mark is ignored;
/// * every feature cell must be a finite number (after trimming spaces); `f32` parsing.
///
/// The target is `opts.target`, or the last column when that is `None`. A target that names no
/// column is read as comma-separated column names: several targets, a regression with one
/// output per column (every cell a finite number, like a feature). With
/// `opts.target_required == false`, a named target the header lacks, or no name at all, means
/// no target: every column is then a feature. With `opts.ignore_target`, the target column is
/// dropped unread (no target).
///
/// Target interpretation, [`TaskChoice`]:
/// * `Classify`: every distinct cell is a class. When all cells are numbers, classes are
///   distinct numeric values, named canonically (`"1"` and `"1.0"` are both class `"1"`) and
///   sorted numerically; otherwise they are the distinct texts sorted lexicographically
///   (byte order).
/// * `Regress`: every cell must be a finite number.
/// * `Auto`: classes when any cell is not a number (a NaN or infinite number is an error,
///   not a class); also when all cells are integers with at
///   most 20 distinct values and at most `max(2, rows / 2)` distinct values (so that a small
///   0/1 file is still classification while an integer-valued measurement such as a count with
///   many levels is regression); otherwise regression.
///
/// Classification needs at least two classes unless `opts.class_names` fixes the classes, in
/// which case each cell must name one of them (numbers compared in canonical form).
///
/// Errors are [`Error::Data`] carrying the file name, the 1-based line and the column name:
/// empty file, header without rows, a row with the wrong number of fields, an empty,
/// non-numeric, NaN or infinite feature, an empty target cell, a target column that does not
/// exist (the message lists the columns), a single class. A missing file is [`Error::Io`].
pub fn load_csv(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let bytes = read_maybe_gzip(path)?;
    load_csv_bytes(&bytes, &path.display().to_string(), opts)
}

/// [`load_csv`] on bytes already in memory (uncompressed); `source_name` labels errors.
pub fn load_csv_bytes(bytes: &[u8], source_name: &str, opts: &LoadOptions) -> Result<Dataset> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::data(source_name, "the file is empty"));
    }
    let delimiter = detect_delimiter(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);

    let err_at = |line: u64, column: Option<&str>, msg: String| Error::Data {
        source_name: source_name.to_string(),
        line: Some(line as usize),
        column: column.map(str::to_string),
        msg,
    };

    let mut record = csv::ByteRecord::new();
    let has_header = reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(source_name, e))?;
    if !has_header {
        return Err(Error::data(source_name, "the file is empty"));
    }
    let header_line = record.position().map_or(1, |p| p.line());
    let names: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = String::from_utf8_lossy(f.trim_ascii()).into_owned();
            if name.is_empty() {
                format!("column_{}", i + 1)
            } else {
                name
            }
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        if let Some(j) = names[..i].iter().position(|n| n == name) {
            return Err(err_at(
                header_line,
                Some(name),
                format!(
                    "duplicate column name (columns {} and {} of the header)",
                    j + 1,
                    i + 1
                ),
            ));
        }
    }
    let n_columns = names.len();

    let target_cols: Vec<usize> = match (&opts.target, opts.target_required) {
        (Some(t), required) => match target_columns(&names, t) {
            Ok(cols) => cols,
            Err(missing) if required => {
                return Err(Error::Data {
                    source_name: source_name.to_string(),
                    line: None,
                    column: Some(missing),
                    msg: format!(
                        "target column not found; the columns are: {}",
                        names.join(", ")
                    ),
                })
            }
            Err(_) => vec![],
        },
        (None, true) => vec![n_columns - 1],
        (None, false) => vec![],
    };
    let several = target_cols.len() > 1;
    if several && opts.task == TaskChoice::Classify {
        return Err(Error::param(
            "task",
            format!(
                "{} target columns make a regression (one output per column); classification takes one target column",
                target_cols.len()
            ),
        ));
    }
    // One target column: resolved at the end (classes or values); several: numbers, parsed
    // like features into `target_values`.
    let target_col = (!several).then(|| target_cols.first().copied()).flatten();
    let mut target_values: Vec<f32> = Vec::new();
    let feature_cols: Vec<usize> = (0..n_columns)
        .filter(|c| !target_cols.contains(c))
        .collect();
    if feature_cols.is_empty() {
        return Err(Error::data(
            source_name,
            "no feature columns: the only column is the target",
        ));
    }
    let n_features = feature_cols.len();
    let feature_names: Vec<String> = feature_cols.iter().map(|&c| names[c].clone()).collect();

    let mut features: Vec<f32> = Vec::with_capacity(bytes.len() / 4);
    let mut target_arena: Vec<u8> = Vec::new();
    let mut target_ends: Vec<usize> = Vec::new();
    let mut row_lines: Vec<u64> = Vec::new();

    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(source_name, e)),
        }
        let line = record_start_line(bytes, record.position());
        if record.len() == 1 && n_columns > 1 && record[0].trim_ascii().is_empty() {
            continue; // a line of spaces only
        }
        if record.len() != n_columns {
            return Err(err_at(
                line,
                None,
                format!(
                    "the row has {} fields but the header has {}",
                    record.len(),
                    n_columns
                ),
            ));
        }
        for (c, field) in record.iter().enumerate() {
            if Some(c) == target_col {
                if opts.ignore_target {
                    continue;
                }
                let cell = field.trim_ascii();
                if cell.is_empty() {
                    return Err(err_at(line, Some(&names[c]), "empty target value".into()));
                }
                target_arena.extend_from_slice(cell);
                target_ends.push(target_arena.len());
                continue;
            }
            let into = match several && target_cols.contains(&c) {
                true => &mut target_values,
                false => &mut features,
            };
            match parse_f32(field) {
                Ok(v) => into.push(v),
                Err(problem) => {
                    let text = String::from_utf8_lossy(field.trim_ascii());
                    let msg = match problem {
                        CellProblem::Empty => "empty value".to_string(),
                        CellProblem::NotANumber => format!("'{text}' is not a number"),
                        CellProblem::NotFinite => {
                            format!("'{text}' is NaN or infinite (as f32); values must be finite")
                        }
                    };
                    return Err(err_at(line, Some(&names[c]), msg));
                }
            }
        }
        row_lines.push(line);
    }
    let n_rows = row_lines.len();
    if n_rows == 0 {
        return Err(Error::data(
            source_name,
            "the file has a header but no data rows",
        ));
    }

    let target = match target_col {
        None if several => Target::Values {
            values: target_values,
            names: target_cols.iter().map(|&c| names[c].clone()).collect(),
        },
        None => Target::None,
        Some(_) if opts.ignore_target => Target::None,
        Some(c) => {
            let cells = TargetCells {
                arena: &target_arena,
                ends: &target_ends,
                lines: &row_lines,
                column: &names[c],
                source_name,
            };
            cells.resolve(opts)?
        }
    };

    features.shrink_to_fit();
    Ok(Dataset {
        features: Features::F32(features),
        n_features,
        feature_names,
        target,
        source_name: source_name.to_string(),
    })
}

/// `ds` as CSV: a header of the feature names and the target's column names, then one row per
/// record (features as read, then the class name or the target values). Names and class names
/// are quoted where CSV needs it. A data set without a target gives the features only.
pub fn write_csv(ds: &Dataset) -> Result<String> {
    let (n, d) = (ds.len(), ds.n_features);
    let x = ds.features_f32();
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::data(&ds.source_name, format!("writing CSV: {e}"));
    let mut header: Vec<String> = ds.feature_names.clone();
    match &ds.target {
        Target::Classes { name, .. } => header.push(name.clone()),
        Target::Values { names, .. } => header.extend(names.iter().cloned()),
        Target::None => {}
    }
    w.write_record(&header).map_err(csv_err)?;
    let mut record: Vec<String> = Vec::with_capacity(header.len());
    for i in 0..n {
        record.clear();
        record.extend(x[i * d..(i + 1) * d].iter().map(|v| v.to_string()));
        match &ds.target {
            Target::Classes {
                labels,
                class_names,
                ..
            } => record.push(class_names[labels[i] as usize].clone()),
            Target::Values { values, names } => {
                let k = names.len();
                record.extend(values[i * k..(i + 1) * k].iter().map(|v| v.to_string()));
            }
            Target::None => {}
        }
        w.write_record(&record).map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::data(&ds.source_name, format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::data(&ds.source_name, format!("writing CSV: {e}")))
}

/// The columns a target spec names: the column of that exact name, else the comma-separated
/// names each of a column (several targets). `Err` carries the first name not found.
fn target_columns(names: &[String], spec: &str) -> std::result::Result<Vec<usize>, String> {
    if let Some(i) = names.iter().position(|n| n == spec) {
        return Ok(vec![i]);
    }
    let mut cols = Vec::new();
    for part in spec.split(',').map(str::trim) {
        match names.iter().position(|n| n == part) {
            Some(i) if !cols.contains(&i) => cols.push(i),
            Some(_) => {}
            None => return Err(part.to_string()),
        }
    }
    Ok(cols)
}

/// The 1-based line on which a record's first field starts. The CSV reader reports the position
/// where it began looking, which is before any blank lines it skipped, so count those here.
fn record_start_line(bytes: &[u8], position: Option<&csv::Position>) -> u64 {
    let Some(p) = position else { return 0 };
    let mut line = p.line();
    let start = (p.byte() as usize).min(bytes.len());
    let rest = &bytes[start..];
    for (i, &b) in rest.iter().enumerate() {
        match b {
            b'\n' => line += 1,
            // a lone carriage return also ends a line
            b'\r' if rest.get(i + 1) != Some(&b'\n') => line += 1,
            b'\r' => {}
            _ => break,
        }
    }
    line
}

/// Why a cell is not a usable feature value.
enum CellProblem {
    Empty,
    NotANumber,
    NotFinite,
}

/// Parse a feature cell: trim ASCII spaces, then `f32` parsing; the result must be finite.
fn parse_f32(field: &[u8]) -> std::result::Result<f32, CellProblem> {
    let cell = field.trim_ascii();
    if cell.is_empty() {
        return Err(CellProblem::Empty);
    }
    let text = std::str::from_utf8(cell).map_err(|_| CellProblem::NotANumber)?;
    let v: f32 = text.parse().map_err(|_| CellProblem::NotANumber)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CellProblem::NotFinite)
    }
}

/// A finite f64 when the (trimmed) cell is a number.
fn parse_number(cell: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(cell).ok()?.parse().ok()?;
    v.is_finite().then_some(v)
}

/// True when `v` is a whole number exactly representable in f64's integer range.
fn is_integer(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() < 9.0e15
}

/// The canonical name of a numeric class: integers without a decimal point, others in Rust's
/// shortest round-trip form.
fn number_name(v: f64) -> String {
    if is_integer(v) {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Choose the delimiter from the first line: the most frequent of `,`, `;`, tab outside double
/// quotes; comma on a tie or when none occurs.
pub(crate) fn detect_delimiter(bytes: &[u8]) -> u8 {
    let mut counts = [0usize; 3]; // comma, tab, semicolon
    let mut in_quotes = false;
    for &b in bytes {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => break,
            b',' if !in_quotes => counts[0] += 1,
            b'\t' if !in_quotes => counts[1] += 1,
            b';' if !in_quotes => counts[2] += 1,
            _ => {}
        }
    }
    let delimiters = [b',', b'\t', b';'];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    delimiters[best]
}

fn csv_error(source_name: &str, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    Error::Data {
        source_name: source_name.to_string(),
        line,
        column: None,
        msg: format!("malformed CSV: {e}"),
    }
}

/// The raw target column: cell `i` is `arena[ends[i-1]..ends[i]]`, from line `lines[i]`.
struct TargetCells<'a> {
    arena: &'a [u8],
    ends: &'a [usize],
    lines: &'a [u64],
    column: &'a str,
    source_name: &'a str,
}

impl<'a> TargetCells<'a> {
    fn cell(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.arena[start..self.ends[i]]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn error(&self, row: usize, msg: String) -> Error {
        Error::Data {
            source_name: self.source_name.to_string(),
            line: Some(self.lines[row] as usize),
            column: Some(self.column.to_string()),
            msg,
        }
    }

    fn resolve(&self, opts: &LoadOptions) -> Result<Target> {
        let n = self.len();
        let mut numbers: Vec<f64> = Vec::with_capacity(n);
        let mut first_text: Option<usize> = None;
        for i in 0..n {
            match parse_number(self.cell(i)) {
                Some(v) => numbers.push(v),
                None => {
                    first_text = Some(i);
                    break;
                }
            }
        }
        // "NaN" or "inf" in an otherwise numeric column is a missing or broken value, not a
        // class name, unless the caller asked for classes.
        if let Some(row) = first_text {
            let cell = self.cell(row);
            let non_finite = std::str::from_utf8(cell)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some();
            if non_finite && opts.task != TaskChoice::Classify {
                let text = String::from_utf8_lossy(cell);
                return Err(self.error(
                    row,
                    format!("target '{text}' is NaN or infinite; values must be finite"),
                ));
            }
        }
        let classify = match opts.task {
            TaskChoice::Classify => true,
            TaskChoice::Regress => {
                if let Some(row) = first_text {
                    let text = String::from_utf8_lossy(self.cell(row));
                    return Err(self.error(
                        row,
                        format!("regression target '{text}' is not a finite number"),
                    ));
                }
                false
            }
            TaskChoice::Auto => {
                opts.class_names.is_some() || first_text.is_some() || looks_like_classes(&numbers)
            }
        };
        if !classify {
            let mut values = Vec::with_capacity(n);
            for (row, &v) in numbers.iter().enumerate() {
                let v32 = v as f32;
                if !v32.is_finite() {
                    let text = String::from_utf8_lossy(self.cell(row));
                    return Err(self.error(
                        row,
                        format!("target '{text}' overflows f32; values must be finite"),
                    ));
                }
                values.push(v32);
            }
            return Ok(Target::Values {
                values,
                names: vec![self.column.to_string()],
            });
        }
        self.classes(first_text.is_none(), opts.class_names.as_deref())
    }

    /// Resolve the column as class labels; `numeric` when every cell is a finite number.
    fn classes(&self, numeric: bool, fixed: Option<&[String]>) -> Result<Target> {
        let n = self.len();
        // Intern the distinct cell texts; remember the first row of each for messages.
        let mut ids: HashMap<&[u8], u32> = HashMap::new();
        let mut distinct: Vec<(&[u8], usize)> = Vec::new();
        let mut row_ids: Vec<u32> = Vec::with_capacity(n);
        for row in 0..n {
            let cell = self.cell(row);
            let id = *ids.entry(cell).or_insert_with(|| {
                distinct.push((cell, row));
                (distinct.len() - 1) as u32
            });
            row_ids.push(id);
        }

        // Name of each distinct text: canonical number when the whole column is numeric.
        let canonical = |cell: &[u8]| -> String {
            match (numeric, parse_number(cell)) {
                (true, Some(v)) => number_name(v),
                _ => String::from_utf8_lossy(cell).into_owned(),
            }
        };

        let (class_names, label_of_distinct): (Vec<String>, Vec<u32>) = match fixed {
            Some(fixed_names) => {
                let lookup: HashMap<&str, u32> = fixed_names
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.as_str(), i as u32))
                    .collect();
                let mut labels = Vec::with_capacity(distinct.len());
                for &(cell, first_row) in &distinct {
                    let name = canonical(cell);
                    match lookup.get(name.as_str()) {
                        Some(&l) => labels.push(l),
                        None => {
                            return Err(self.error(
                                first_row,
                                format!(
                                    "unknown class '{name}'; the known classes are: {}",
                                    fixed_names.join(", ")
                                ),
                            ))
                        }
                    }
                }
                (fixed_names.to_vec(), labels)
            }
            None => {
                let mut order: Vec<usize> = (0..distinct.len()).collect();
                let mut names: Vec<String> = Vec::new();
                let mut labels = vec![0u32; distinct.len()];
                if numeric {
                    let value = |k: usize| parse_number(distinct[k].0).unwrap_or(0.0);
                    order.sort_by(|&a, &b| value(a).total_cmp(&value(b)));
                    let mut last: Option<f64> = None;
                    for &k in &order {
                        let v = value(k);
                        if last != Some(v) {
                            names.push(number_name(v));
                            last = Some(v);
                        }
                        labels[k] = (names.len() - 1) as u32;
                    }
                } else {
                    order.sort_by(|&a, &b| distinct[a].0.cmp(distinct[b].0));
                    for (rank, &k) in order.iter().enumerate() {
                        names.push(String::from_utf8_lossy(distinct[k].0).into_owned());
                        labels[k] = rank as u32;
                    }
                }
                if names.len() < 2 {
                    return Err(Error::Data {
                        source_name: self.source_name.to_string(),
                        line: None,
                        column: Some(self.column.to_string()),
                        msg: format!(
                            "classification needs at least two classes, but every row has class '{}'",
                            names[0]
                        ),
                    });
                }
                (names, labels)
            }
        };
        let labels = row_ids
            .iter()
            .map(|&id| label_of_distinct[id as usize])
            .collect();
        Ok(Target::Classes {
            labels,
            class_names,
            name: self.column.to_string(),
        })
    }
}

/// The [`TaskChoice::Auto`] rule for an all-numeric column: integers with few distinct values.
fn looks_like_classes(numbers: &[f64]) -> bool {
    if !numbers.iter().all(|&v| is_integer(v)) {
        return false;
    }
    let limit = AUTO_MAX_CLASSES.min((numbers.len() / 2).max(2));
    let mut seen: Vec<f64> = Vec::new();
    for &v in numbers {
        if !seen.contains(&v) {
            seen.push(v);
            if seen.len() > limit {
                return false;
            }
        }
    }
    true
}

//! FANN's training-data files (the format of the FANN library's `fann_read_train_from_file`).
//!
//! ```text
//! num_pairs num_inputs num_outputs
//! x1 x2 ... x_num_inputs          one line of inputs
//! y1 ... y_num_outputs            the line of outputs that goes with it
//! ...                             num_pairs such pairs
//! ```
//!
//! Numbers are separated by any whitespace. FANN reads them with `fscanf`, so line breaks are
//! free; this reader is as liberal, with one check on top: when the first pair keeps its inputs
//! and its outputs on lines of their own (as every file FANN writes does), every pair must, so
//! that a line with a value too many or too few is reported at that pair instead of shifting
//! every later value.
//!
//! Every output is a target. The task, unless the caller fixes it ([`TaskChoice`]):
//! classification when every output is 0/1 (or every one −1/1) with exactly one 1 per row
//! (class `j` = output `j`, classes named `0` … `k−1`), or when there is a single output whose
//! values are 0/1 (or −1/1; the classes are then named by those values); regression otherwise,
//! with one target per output (`y0`, `y1`, …). Features are named `x0`, `x1`, ….

use std::path::Path;

use super::gzip::read_maybe_gzip;
use super::{Dataset, Features, LoadOptions, Target, TaskChoice};
use crate::{Error, Result};

/// True when `path` names a FANN file by its ending: `.train`, `.test` or `.data`, each
/// optionally followed by `.gz`.
pub fn is_fann_path(path: &str) -> bool {
    let p = path.strip_suffix(".gz").unwrap_or(path);
    [".train", ".test", ".data"].iter().any(|e| p.ends_with(e))
}

/// A FANN file read into a [`Dataset`] (see the module documentation for the rules), with the
/// reason for the task in words, e.g. `"3 outputs, one hot per row → classification with 3
/// classes"`.
#[derive(Clone, Debug, PartialEq)]
pub struct FannData {
    /// The rows.
    pub data: Dataset,
    /// Why the task is what it is.
    pub task_reason: String,
}

/// Load a FANN file (gzip-compressed when its content is gzip; a name ending in `.gz` must be).
///
/// `opts.task` may force classification (an error names the first pair whose outputs are not
/// one-hot) or regression; `opts.class_names` fixes the classes (a trained model's), and each
/// row's class must be one of them. `opts.target` is not used: every output is a target.
///
/// Errors are [`Error::Data`] naming the file, the line, the pair (1-based) and the value: an
/// empty file, a header that is not three whole numbers, a value that is not a finite number,
/// a line of a pair with too many or too few values, a body with fewer or more values than
/// the header announces. A missing file is [`Error::Io`].
pub fn load_fann(path: &Path, opts: &LoadOptions) -> Result<FannData> {
    let bytes = read_maybe_gzip(path)?;
    load_fann_bytes(&bytes, &path.display().to_string(), opts)
}

/// One whitespace-separated token: its text and the 1-based line it is on.
struct Token<'a> {
    text: &'a [u8],
    line: usize,
}

/// Split `bytes` into tokens with their line numbers (`\n`, `\r\n` and a lone `\r` end lines).
fn tokens(bytes: &[u8]) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            line += 1;
            i += 1;
        } else if b.is_ascii_whitespace() {
            i += 1;
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(Token {
                text: &bytes[start..i],
                line,
            });
        }
    }
    out
}

/// [`load_fann`] on bytes already in memory (uncompressed); `source_name` labels errors.
pub fn load_fann_bytes(bytes: &[u8], source_name: &str, opts: &LoadOptions) -> Result<FannData> {
    let toks = tokens(bytes);
    let err = |line: Option<usize>, column: Option<String>, msg: String| Error::Data {
        source_name: source_name.to_string(),
        line,
        column,
        msg,
    };
    if toks.is_empty() {
        return Err(err(None, None, "the file is empty".into()));
    }
    // Header: three whole numbers.
    let header: Vec<&Token> = toks.iter().take(3).collect();
    let header_numbers: Option<Vec<usize>> = header
        .iter()
        .map(|t| std::str::from_utf8(t.text).ok()?.parse::<usize>().ok())
        .collect();
    let (pairs, n_in, n_out) = match header_numbers.as_deref() {
        Some(&[p, i, o]) if header.iter().all(|t| t.line == header[0].line) => (p, i, o),
        _ => {
            let text: Vec<String> = header
                .iter()
                .filter(|t| t.line == header[0].line)
                .map(|t| String::from_utf8_lossy(t.text).into_owned())
                .collect();
            return Err(err(
                Some(header[0].line),
                None,
                format!(
                    "the header must be three whole numbers on one line, 'pairs inputs outputs'; found '{}'",
                    text.join(" ")
                ),
            ));
        }
    };
    if n_in == 0 || n_out == 0 {
        return Err(err(
            Some(header[0].line),
            None,
            format!(
                "the header announces {n_in} inputs and {n_out} outputs; both must be at least 1"
            ),
        ));
    }
    if pairs == 0 {
        return Err(err(
            Some(header[0].line),
            None,
            "the header announces 0 pairs: no data".into(),
        ));
    }
    let body = &toks[3..];
    let Some(per_pair) = n_in.checked_add(n_out) else {
        return Err(err(
            Some(header[0].line),
            None,
            format!(
                "the header announces too many values per pair ({n_in} inputs and {n_out} outputs)"
            ),
        ));
    };
    // Line layout: the first pair's inputs and outputs each on lines of their own.
    let starts_line = |k: usize| k == 0 || k >= body.len() || body[k].line != body[k - 1].line;
    let line_layout = body.len() >= per_pair
        && (body[0].line != header[0].line)
        && starts_line(n_in)
        && starts_line(per_pair)
        && body[0].line == body[n_in - 1].line
        && body[n_in].line == body[per_pair - 1].line;
    let expected = pairs.checked_mul(per_pair).ok_or_else(|| {
        err(
            Some(header[0].line),
            None,
            format!("the header announces too many values ({pairs} pairs of {per_pair})"),
        )
    })?;
    // The header's count is not trusted for allocation: the body holds at most body.len() values.
    let mut x = Vec::with_capacity((pairs * n_in).min(body.len()));
    let mut y = Vec::with_capacity((pairs * n_out).min(body.len()));
    // The file ends before the header's count: the error points at its last line.
    let ends_early = |msg: String| {
        let last = body.last().map_or(header[0].line, |t| t.line);
        err(Some(last), None, msg)
    };
    for pair in 0..pairs {
        let base = pair * per_pair;
        if base >= body.len() {
            return Err(ends_early(format!(
                "the header announces {pairs} pairs, but the file ends after {pair} (pair {} is missing)",
                pair + 1
            )));
        }
        if line_layout {
            for (part, lo, len) in [("input", base, n_in), ("output", base + n_in, n_out)] {
                let Some(first) = body.get(lo) else {
                    return Err(ends_early(format!(
                        "the header announces {pairs} pairs of {n_in} inputs and {n_out} outputs, but the file ends in pair {} before its outputs",
                        pair + 1
                    )));
                };
                let line = first.line;
                let count = body[lo..].iter().take_while(|t| t.line == line).count();
                let continues_previous = lo > 0 && body[lo - 1].line == line;
                if count != len || continues_previous {
                    let found = if continues_previous {
                        "shares its line with the values before it".to_string()
                    } else {
                        format!("has {count} values, expected {len}")
                    };
                    return Err(err(
                        Some(line),
                        None,
                        format!("pair {}: the {part} line {found}", pair + 1),
                    ));
                }
            }
        }
        for k in 0..per_pair {
            let Some(t) = body.get(base + k) else {
                return Err(ends_early(format!(
                    "the header announces {pairs} pairs of {n_in} inputs and {n_out} outputs, but the file ends in pair {} after {k} of its {per_pair} values",
                    pair + 1
                )));
            };
            let (part, j) = match k < n_in {
                true => ("input", k),
                false => ("output", k - n_in),
            };
            let text = String::from_utf8_lossy(t.text);
            let v: f32 = match text.parse::<f32>() {
                Ok(v) if v.is_finite() => v,
                Ok(_) => {
                    return Err(err(
                        Some(t.line),
                        Some(format!("{part} {}", j + 1)),
                        format!(
                            "pair {}: '{text}' is NaN or infinite (as f32); values must be finite",
                            pair + 1
                        ),
                    ))
                }
                Err(_) => {
                    return Err(err(
                        Some(t.line),
                        Some(format!("{part} {}", j + 1)),
                        format!("pair {}: '{text}' is not a number", pair + 1),
                    ))
                }
            };
            if k < n_in {
                x.push(v);
            } else {
                y.push(v);
            }
        }
    }
    if body.len() > expected {
        let t = &body[expected];
        return Err(err(
            Some(t.line),
            None,
            format!(
                "the header announces {pairs} pairs, but more values follow the last one ('{}')",
                String::from_utf8_lossy(t.text)
            ),
        ));
    }
    let (target, task_reason) = resolve_target(&y, n_out, pairs, opts, source_name)?;
    let data = Dataset {
        features: Features::F32(x),
        n_features: n_in,
        feature_names: (0..n_in).map(|j| format!("x{j}")).collect(),
        target,
        source_name: source_name.to_string(),
    };
    Ok(FannData { data, task_reason })
}

/// The one-hot coding of the outputs, when they have one: the low value (0 or −1).
fn one_hot_low(y: &[f32], n_out: usize) -> std::result::Result<f32, usize> {
    let low = if y.contains(&-1.0) { -1.0 } else { 0.0 };
    for (row, values) in y.chunks_exact(n_out).enumerate() {
        let hot = values.iter().filter(|&&v| v == 1.0).count();
        let coded = values.iter().all(|&v| v == 1.0 || v == low);
        if !coded || (n_out > 1 && hot != 1) {
            return Err(row);
        }
    }
    Ok(low)
}

fn number_name(v: f32) -> String {
    format!("{v}")
}

fn resolve_target(
    y: &[f32],
    n_out: usize,
    pairs: usize,
    opts: &LoadOptions,
    source_name: &str,
) -> Result<(Target, String)> {
    let outputs = match n_out {
        1 => "1 output".to_string(),
        k => format!("{k} outputs"),
    };
    let coding = one_hot_low(y, n_out);
    let classify = match (opts.task, &coding) {
        (TaskChoice::Regress, _) => false,
        (TaskChoice::Classify, Err(row)) => {
            let values: Vec<String> = y[row * n_out..(row + 1) * n_out]
                .iter()
                .map(|&v| number_name(v))
                .collect();
            return Err(Error::Data {
                source_name: source_name.to_string(),
                line: None,
                column: None,
                msg: format!(
                    "pair {}: outputs '{}' are not one-hot (0/1 or -1/1 with one 1 per row), so they cannot be classes",
                    row + 1,
                    values.join(" ")
                ),
            });
        }
        (_, Ok(_)) => true,
        (TaskChoice::Auto, Err(_)) => false,
    };
    if !classify {
        let names = match n_out {
            1 => vec!["y".to_string()],
            k => (0..k).map(|j| format!("y{j}")).collect(),
        };
        let why = match opts.task {
            TaskChoice::Regress => "regression as asked".to_string(),
            _ => "real values".to_string(),
        };
        let reason = format!("{outputs}, {why} → regression with {outputs}");
        return Ok((
            Target::Values {
                values: y.to_vec(),
                names,
            },
            reason,
        ));
    }
    let low = coding.unwrap_or(0.0);
    let (own_names, labels): (Vec<String>, Vec<u32>) = if n_out == 1 {
        (
            vec![number_name(low), "1".into()],
            y.iter().map(|&v| u32::from(v == 1.0)).collect(),
        )
    } else {
        (
            (0..n_out).map(|j| j.to_string()).collect(),
            y.chunks_exact(n_out)
                .map(|r| r.iter().position(|&v| v == 1.0).unwrap_or(0) as u32)
                .collect(),
        )
    };
    let (class_names, labels) = match &opts.class_names {
        None => (own_names, labels),
        Some(fixed) => {
            let mut mapped = Vec::with_capacity(labels.len());
            for (row, &l) in labels.iter().enumerate() {
                let name = &own_names[l as usize];
                match fixed.iter().position(|f| f == name) {
                    Some(i) => mapped.push(i as u32),
                    None => {
                        return Err(Error::Data {
                            source_name: source_name.to_string(),
                            line: None,
                            column: None,
                            msg: format!(
                                "pair {}: class '{name}' is not one of the classes ({})",
                                row + 1,
                                fixed.join(", ")
                            ),
                        })
                    }
                }
            }
            (fixed.clone(), mapped)
        }
    };
    let k = class_names.len();
    let reason = match n_out {
        1 => format!(
            "1 output, values {}/1 → classification with 2 classes",
            number_name(low)
        ),
        _ => format!("{outputs}, one hot per row → classification with {k} classes"),
    };
    debug_assert_eq!(labels.len(), pairs);
    Ok((
        Target::Classes {
            labels,
            class_names,
            name: "class".into(),
        },
        reason,
    ))
}

/// `ds` in FANN's format. Features are written as read (bytes times their scale); the outputs:
/// a regression target's values; for classes, one output per class (1 for the row's class, 0
/// for the others), except two classes named `0`/`1` or `-1`/`1`, which keep one output with
/// those values (as FANN's parity and two-spiral files have). Errors when `ds` has no target
/// (FANN files always have outputs).
pub fn write_fann(ds: &Dataset) -> Result<String> {
    use std::fmt::Write;
    let (n, d) = (ds.len(), ds.n_features);
    let x = ds.features_f32();
    let outputs: Vec<Vec<f32>> = match &ds.target {
        Target::None => {
            return Err(Error::data(
                &ds.source_name,
                "a FANN file needs outputs, but the data has no target (name it with --target)",
            ))
        }
        Target::Values { values, names } => values
            .chunks_exact(names.len().max(1))
            .map(<[f32]>::to_vec)
            .collect(),
        Target::Classes {
            labels,
            class_names,
            ..
        } => {
            let binary_low = match class_names.as_slice() {
                [a, b] if b == "1" && (a == "0" || a == "-1") => {
                    Some(a.parse::<f32>().unwrap_or(0.0))
                }
                _ => None,
            };
            labels
                .iter()
                .map(|&l| match binary_low {
                    Some(low) => vec![if l == 1 { 1.0 } else { low }],
                    None => (0..class_names.len())
                        .map(|c| f32::from(u8::from(c == l as usize)))
                        .collect(),
                })
                .collect()
        }
    };
    let n_out = outputs.first().map_or(0, Vec::len);
    let mut s = String::with_capacity(n * (d + n_out) * 8 + 32);
    let _ = writeln!(s, "{n} {d} {n_out}");
    for (row, out) in x.chunks(d.max(1)).zip(&outputs) {
        let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "{}", line.join(" "));
        let line: Vec<String> = out.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "{}", line.join(" "));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Task;

    fn read(text: &str) -> Result<FannData> {
        load_fann_bytes(text.as_bytes(), "t.train", &LoadOptions::default())
    }

    /// The message, line and column of the data error that reading `text` gives.
    fn data_error(text: &str) -> (String, Option<usize>, Option<String>) {
        let result = read(text);
        let Err(Error::Data {
            source_name: name,
            line,
            column,
            msg,
        }) = result
        else {
            panic!("expected a data error, got {result:?}")
        };
        assert_eq!(name, "t.train");
        (msg, line, column)
    }

    #[test]
    fn reads_pairs_and_decides_the_task() {
        // Three outputs, one hot per row: three classes.
        let f = read("3 2 3\n0.5 1\n0 0 1\n-1 2\n1 0 0\n3 4\n0 1 0\n").unwrap();
        assert_eq!(f.data.n_features, 2);
        assert_eq!(
            f.data.features,
            Features::F32(vec![0.5, 1.0, -1.0, 2.0, 3.0, 4.0])
        );
        assert_eq!(f.data.labels(), Some(&[2, 0, 1][..]));
        assert_eq!(f.data.n_classes(), 3);
        assert_eq!(
            f.task_reason,
            "3 outputs, one hot per row → classification with 3 classes"
        );
        // −1/1 coding works the same.
        let f = read("2 1 2\n1\n-1 1\n2\n1 -1\n").unwrap();
        assert_eq!(f.data.labels(), Some(&[1, 0][..]));
        // One output with 0/1 values: two classes named by the values; −1/1 likewise.
        let f = read("2 1 1\n1\n1\n2\n0\n").unwrap();
        assert_eq!(f.data.labels(), Some(&[1, 0][..]));
        assert!(f.task_reason.contains("values 0/1 → classification"));
        let f = read("2 1 1\n1\n1\n2\n-1\n").unwrap();
        match &f.data.target {
            Target::Classes { class_names, .. } => assert_eq!(class_names, &["-1", "1"]),
            t => panic!("{t:?}"),
        }
        // Two hot outputs in a row, or real values: regression with one target per output.
        let f = read("2 1 2\n1\n1 1\n2\n0 1\n").unwrap();
        assert_eq!(f.data.task(), Some(Task::Regress));
        match &f.data.target {
            Target::Values { values, names } => {
                assert_eq!(values, &[1.0, 1.0, 0.0, 1.0]);
                assert_eq!(names, &["y0", "y1"]);
            }
            t => panic!("{t:?}"),
        }
        assert_eq!(
            f.task_reason,
            "2 outputs, real values → regression with 2 outputs"
        );
        let f = read("2 1 1\n1\n0.25\n2\n0\n").unwrap();
        assert_eq!(f.data.task(), Some(Task::Regress));
    }

    /// Inputs the `fann` fuzz target found (fuzz/, README "Fuzzing"), each once a panic.
    #[test]
    fn fuzzer_finds_are_errors() {
        // Line layout, and the file ends after the last pair's inputs: was an index past the
        // end of the values.
        let (msg, line, _) = data_error("2 1 2\n1.5\n0.25 -3\n2");
        assert!(msg.contains("ends in pair 2 before its outputs"), "{msg}");
        assert_eq!(line, Some(4));
        // Inputs + outputs overflow usize: was an arithmetic overflow.
        let (msg, line, _) = data_error(&format!("1 {} 1\n0\n0\n", usize::MAX));
        assert!(msg.contains("too many values per pair"), "{msg}");
        assert_eq!(line, Some(1));
        // A header announcing far more values than the file holds allocates by the file, not
        // by the header, and says the file ends early.
        let (msg, _, _) = data_error("100000000000 10000 1\n0\n");
        assert!(msg.contains("the file ends"), "{msg}");
    }

    #[test]
    fn line_breaks_are_free_as_in_fann() {
        // Everything on one line, CRLF endings and trailing blanks: FANN reads these too.
        let a = read("2 2 1 1 2 1 3 4 0").unwrap();
        let b = read("2 2 1\r\n1 2 \r\n1\r\n3 4\r\n0\r\n\r\n").unwrap();
        assert_eq!(a.data.features, b.data.features);
        assert_eq!(a.data.target, b.data.target);
    }

    #[test]
    fn errors_name_the_pair_the_line_and_the_value() {
        // (file, line, column, the message or a part of it)
        let cases: [(&str, Option<usize>, Option<&str>, &str); 10] = [
            ("", None, None, "the file is empty"),
            (
                "2 x 1\n1\n1\n",
                Some(1),
                None,
                "three whole numbers on one line, 'pairs inputs outputs'; found '2 x 1'",
            ),
            (
                "2 1 1\n1\n1\n2\nabc\n",
                Some(5),
                Some("output 1"),
                "pair 2: 'abc' is not a number",
            ),
            (
                "1 1 1\nnan\n1\n",
                Some(2),
                Some("input 1"),
                "pair 1: 'nan' is NaN or infinite",
            ),
            // The header promises three pairs, the body holds two.
            (
                "3 1 1\n1\n1\n2\n0\n",
                Some(5),
                None,
                "announces 3 pairs, but the file ends after 2 (pair 3 is missing)",
            ),
            // More values than announced.
            (
                "1 1 1\n1\n1\n2\n0\n",
                Some(4),
                None,
                "more values follow the last one ('2')",
            ),
            // A ragged pair: the input line of pair 2 has a value too many ...
            (
                "3 2 1\n1 2\n1\n3 4 5\n0\n6 7\n1\n",
                Some(4),
                None,
                "pair 2: the input line has 3 values, expected 2",
            ),
            // ... or its output line one too few.
            (
                "2 1 2\n1\n0 1\n2\n1\n",
                Some(5),
                None,
                "pair 2: the output line has 1 values, expected 2",
            ),
            ("1 0 1\n1\n", Some(1), None, "both must be at least 1"),
            ("0 1 1\n", Some(1), None, "0 pairs"),
        ];
        for (text, want_line, want_column, want) in cases {
            let (msg, line, column) = data_error(text);
            assert!(msg.contains(want), "{text:?}: {msg}");
            assert_eq!(
                (line, column.as_deref()),
                (want_line, want_column),
                "{text:?}"
            );
        }
    }

    #[test]
    fn forced_and_fixed_classes() {
        let with = |task: TaskChoice, class_names: Option<Vec<String>>, text: &[u8]| {
            let opts = LoadOptions {
                task,
                class_names,
                ..LoadOptions::default()
            };
            load_fann_bytes(text, "t", &opts)
        };
        let err = with(TaskChoice::Classify, None, b"2 1 2\n1\n1 1\n2\n0 1\n").unwrap_err();
        let want = "pair 1: outputs '1 1' are not one-hot";
        assert!(err.to_string().contains(want), "{err}");
        let f = with(TaskChoice::Regress, None, b"1 1 2\n1\n0 1\n").unwrap();
        assert_eq!(f.data.task(), Some(Task::Regress));
        let fixed = Some(vec!["0".to_string(), "1".to_string()]);
        let err = with(TaskChoice::Auto, fixed, b"1 1 1\n1\n-1\n").unwrap_err();
        let want = "class '-1' is not one of the classes (0, 1)";
        assert!(err.to_string().contains(want), "{err}");
    }

    #[test]
    fn writes_back_what_it_reads() {
        for text in [
            "2 2 3\n0.5 1\n0 0 1\n-1 2.25\n1 0 0\n",
            "2 1 1\n1\n-1\n2\n1\n",
            "2 1 2\n1\n0.5 1.5\n2\n-3 0\n",
        ] {
            let f = read(text).unwrap();
            let again = read(&write_fann(&f.data).unwrap()).unwrap();
            assert_eq!(again.data.features, f.data.features);
            assert_eq!(again.data.target, f.data.target);
        }
        assert_eq!(
            write_fann(&read("1 2 1\n0.5 1\n0.25\n").unwrap().data).unwrap(),
            "1 2 1\n0.5 1\n0.25\n"
        );
        let csv = crate::data::write_csv(&read("2 1 3\n1\n0 0 1\n2\n1 0 0\n").unwrap().data);
        assert_eq!(csv.unwrap(), "x0,class\n1,2\n2,0\n");
    }

    #[test]
    fn gzip_files_and_the_source_spec() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("nabla-fann-gz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.train.gz");
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"2 1 1\n1\n0.5\n2\n0.25\n").unwrap();
        std::fs::write(&p, z.finish().unwrap()).unwrap();
        let spec = p.display().to_string();
        let loaded = crate::data::load_source(&spec, &LoadOptions::default()).unwrap();
        assert_eq!(loaded.train.len(), 2);
        assert_eq!(
            loaded.task_reason.as_deref(),
            Some("1 output, real values → regression with 1 output")
        );
        let prefixed = crate::data::load_source(&format!("fann:{spec}"), &LoadOptions::default());
        assert_eq!(prefixed.unwrap().train, loaded.train);
        // A .gz name whose content is not gzip, and a missing file.
        let q = dir.join("t.test.gz");
        std::fs::write(&q, "2 1 1\n").unwrap();
        let err = load_fann(&q, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not gzip"), "{err}");
        let missing = load_fann(&dir.join("none.data"), &LoadOptions::default());
        assert!(matches!(missing, Err(Error::Io { .. })));
    }

    #[test]
    fn fann_names() {
        for p in ["a.train", "a.test.gz", "dir/b.data", "x.data.gz"] {
            assert!(is_fann_path(p), "{p}");
        }
        for p in ["a.csv", "a.csv.gz", "train", "a.trains"] {
            assert!(!is_fann_path(p), "{p}");
        }
    }
}

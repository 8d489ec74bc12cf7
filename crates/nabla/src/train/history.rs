//! A run's [`History`] as a CSV file, and the per-epoch series a plot of it needs.
//!
//! [`History::to_csv`] writes one row per epoch under the header
//! `epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,grad_norm_NAME...` (one
//! `grad_norm_` column per parameter tensor, in parameter order), with an empty cell where a
//! figure does not exist (no validation set, regression). [`HistoryTable::from_csv`] reads that
//! file back, and also the history files of other tools (see its column list), into a
//! [`HistoryTable`]; [`History::table`] gives the same table without a file.
//!
//! Figures are written in Rust's shortest round-trip notation, so reading a file back and
//! narrowing a loss or gradient norm to `f32` gives exactly the value trained; the learning
//! rate and the accuracies (exact ratios, `f64`) come back exactly as they are.

use std::path::Path;

use super::History;
use crate::{Error, Result};

/// Per-epoch series of a training history, one entry per epoch in every series (`None` where
/// the figure does not exist), ready to plot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryTable {
    /// Epoch numbers (1-based for nabla's own files; the row number when a file has none).
    pub epochs: Vec<f64>,
    /// Learning rate of each epoch.
    pub lr: Vec<Option<f64>>,
    /// Mean training loss.
    pub train_loss: Vec<Option<f64>>,
    /// Training accuracy (classification).
    pub train_accuracy: Vec<Option<f64>>,
    /// Validation loss.
    pub val_loss: Vec<Option<f64>>,
    /// Validation accuracy (classification).
    pub val_accuracy: Vec<Option<f64>>,
    /// (parameter name, gradient norm per epoch), in column order.
    pub grad_norms: Vec<(String, Vec<Option<f64>>)>,
}

impl HistoryTable {
    /// Number of epochs (rows).
    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    /// True when the table has no epochs.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// True when some epoch has a training or validation accuracy.
    pub fn has_accuracy(&self) -> bool {
        self.train_accuracy
            .iter()
            .chain(&self.val_accuracy)
            .any(Option::is_some)
    }

    /// Reads a history CSV file with [`HistoryTable::from_csv`]; an unreadable file is an
    /// [`Error::Io`] naming it.
    pub fn read_csv(path: &Path) -> Result<HistoryTable> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        HistoryTable::from_csv(&text, &path.display().to_string())
    }

    /// Parses a history CSV; `source_name` (usually the file name) is what errors name.
    ///
    /// Recognised columns (case-insensitive): `epoch`; `lr` (`learning_rate`); `train_loss`
    /// (`loss`); `val_loss` (`valid_loss`, `validation_loss`); `train_accuracy` (`accuracy`,
    /// `train_acc`); `val_accuracy` (`val_acc`, `validation_accuracy`); and one gradient-norm
    /// series per column whose name starts with `grad_norm` (`grad_norm_0.weight`,
    /// `grad_norm:0.weight`, `grad_norm[0.weight]`). Other columns are ignored; blank lines
    /// are skipped; an empty or missing cell is `None`.
    ///
    /// Errors are [`Error::Data`] values: an empty file, a header with no loss or
    /// gradient-norm column (naming the header's line), no rows, or a cell that is not a
    /// number (naming its 1-based line and its column as `"N (name)"`).
    ///
    /// ```
    /// use nabla::train::HistoryTable;
    /// let t = HistoryTable::from_csv("epoch,train_loss,val_loss\n1,0.9,1.1\n2,0.5,\n", "h.csv")?;
    /// assert_eq!(t.train_loss, [Some(0.9), Some(0.5)]);
    /// assert_eq!(t.val_loss, [Some(1.1), None]);
    /// let e = HistoryTable::from_csv("epoch,train_loss\n1,abc\n", "h.csv").unwrap_err();
    /// assert_eq!(e.to_string(), "h.csv, line 2, column 2 (train_loss): 'abc' is not a number");
    /// # Ok::<(), nabla::Error>(())
    /// ```
    pub fn from_csv(text: &str, source_name: &str) -> Result<HistoryTable> {
        let data_err = |line: Option<usize>, column: Option<String>, msg: String| Error::Data {
            source_name: source_name.to_string(),
            line,
            column,
            msg,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((header_index, header)) = lines.next() else {
            return Err(data_err(
                None,
                None,
                "the history file is empty (expected a header line such as \
                 epoch,train_loss,val_loss,...)"
                    .into(),
            ));
        };
        let columns: Vec<String> = header
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect();
        let find = |names: &[&str]| {
            columns
                .iter()
                .position(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
        };
        let epoch_col = find(&["epoch"]);
        let lr_col = find(&["lr", "learning_rate"]);
        let train_loss_col = find(&["train_loss", "loss"]);
        let val_loss_col = find(&["val_loss", "valid_loss", "validation_loss"]);
        let train_acc_col = find(&["train_accuracy", "accuracy", "train_acc"]);
        let val_acc_col = find(&["val_accuracy", "val_acc", "validation_accuracy"]);
        let grad_cols: Vec<(usize, String)> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.to_ascii_lowercase().starts_with(GRAD_NORM))
            .map(|(i, c)| {
                let name = c[GRAD_NORM.len()..].trim_start_matches([':', '_', '[', ' ']);
                let name = name.trim_end_matches(']');
                let name = if name.is_empty() { c } else { name };
                (i, name.to_string())
            })
            .collect();
        if train_loss_col.is_none() && val_loss_col.is_none() && grad_cols.is_empty() {
            return Err(data_err(
                Some(header_index + 1),
                None,
                format!(
                    "the history header has no column to plot (found: {}; expected \
                     train_loss, val_loss, train_accuracy, val_accuracy or grad_norm:NAME)",
                    columns.join(", ")
                ),
            ));
        }
        let mut table = HistoryTable {
            grad_norms: grad_cols.iter().map(|(_, n)| (n.clone(), vec![])).collect(),
            ..HistoryTable::default()
        };
        for (row, (line_index, line)) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let cell = |col: Option<usize>| -> Result<Option<f64>> {
                let Some(col) = col else { return Ok(None) };
                match cells.get(col).copied().unwrap_or("") {
                    "" => Ok(None),
                    text => text.parse::<f64>().map(Some).map_err(|_| {
                        data_err(
                            Some(line_index + 1),
                            Some(format!("{} ({})", col + 1, columns[col])),
                            format!("'{text}' is not a number"),
                        )
                    }),
                }
            };
            table
                .epochs
                .push(cell(epoch_col)?.unwrap_or((row + 1) as f64));
            table.train_loss.push(cell(train_loss_col)?);
            table.val_loss.push(cell(val_loss_col)?);
            table.train_accuracy.push(cell(train_acc_col)?);
            table.val_accuracy.push(cell(val_acc_col)?);
            for ((col, _), (_, series)) in grad_cols.iter().zip(&mut table.grad_norms) {
                series.push(cell(Some(*col))?);
            }
            table.lr.push(cell(lr_col)?);
        }
        if table.is_empty() {
            return Err(data_err(
                None,
                None,
                "the history file has a header but no epochs".into(),
            ));
        }
        Ok(table)
    }
}

/// Prefix of the gradient-norm columns.
const GRAD_NORM: &str = "grad_norm";

impl History {
    /// The parameter names of the gradient-norm columns: those of the first epoch.
    fn grad_norm_names(&self) -> Vec<&str> {
        self.epochs
            .first()
            .map(|e| e.grad_norms.iter().map(|(n, _)| n.as_str()).collect())
            .unwrap_or_default()
    }

    /// The history as CSV: a header
    /// `epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,grad_norm_NAME...` (one
    /// `grad_norm_` column per parameter tensor, in parameter order) and one row per epoch,
    /// with an empty cell where a figure does not exist (no validation set, regression).
    /// Figures are in Rust's shortest round-trip notation, so [`HistoryTable::from_csv`] reads
    /// them back exactly (narrow the losses, accuracies and norms to `f32`).
    pub fn to_csv(&self) -> String {
        let names = self.grad_norm_names();
        let mut out = String::from("epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy");
        for n in &names {
            out.push_str(&format!(",{GRAD_NORM}_{n}"));
        }
        out.push('\n');
        fn opt<T: ToString>(v: Option<T>) -> String {
            v.map(|v| v.to_string()).unwrap_or_default()
        }
        for e in &self.epochs {
            out.push_str(&format!(
                "{},{},{},{},{},{}",
                e.epoch,
                e.lr,
                e.train_loss,
                opt(e.train_accuracy),
                opt(e.val.as_ref().map(|m| m.loss)),
                opt(e.val.as_ref().and_then(|m| m.accuracy)),
            ));
            for n in &names {
                out.push_str(&format!(",{}", opt(grad_norm(e, n))));
            }
            out.push('\n');
        }
        out
    }

    /// The per-epoch series of this history, as [`HistoryTable::from_csv`] would read them
    /// from [`History::to_csv`] (but with the `f32` figures widened exactly to `f64`).
    pub fn table(&self) -> HistoryTable {
        let wide = |v: Option<f32>| v.map(f64::from);
        let epochs = &self.epochs;
        HistoryTable {
            epochs: epochs.iter().map(|e| e.epoch as f64).collect(),
            lr: epochs.iter().map(|e| Some(e.lr)).collect(),
            train_loss: epochs
                .iter()
                .map(|e| Some(f64::from(e.train_loss)))
                .collect(),
            train_accuracy: epochs.iter().map(|e| e.train_accuracy).collect(),
            val_loss: epochs
                .iter()
                .map(|e| wide(e.val.as_ref().map(|m| m.loss)))
                .collect(),
            val_accuracy: epochs
                .iter()
                .map(|e| e.val.as_ref().and_then(|m| m.accuracy))
                .collect(),
            grad_norms: self
                .grad_norm_names()
                .into_iter()
                .map(|n| {
                    let series = epochs.iter().map(|e| wide(grad_norm(e, n))).collect();
                    (n.to_string(), series)
                })
                .collect(),
        }
    }
}

/// The gradient norm of parameter `name` in one epoch, if recorded.
fn grad_norm(e: &super::EpochRecord, name: &str) -> Option<f32> {
    e.grad_norms
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{EpochRecord, Metrics};

    fn record(epoch: usize, val: bool) -> EpochRecord {
        let t = epoch as f32;
        EpochRecord {
            epoch,
            lr: 0.01 / epoch as f64,
            train_loss: 1.0 / (t + 0.3),
            train_accuracy: Some(1.0 - 0.7 / t as f64),
            val: val.then(|| Metrics {
                loss: 1.1 / (t + 0.1),
                accuracy: Some(0.9 - 0.5 / t as f64),
                ..Metrics::default()
            }),
            test: None,
            grad_norms: vec![("0.weight".into(), 0.3 / t), ("0.bias".into(), 1e-7 * t)],
            layers: vec![],
            seconds: 0.5,
        }
    }

    fn history() -> History {
        History {
            epochs: vec![record(1, true), record(2, false), record(3, true)],
            ..History::default()
        }
    }

    /// Narrows every figure to f32, the precision they were trained in.
    fn narrowed(series: &[Option<f64>]) -> Vec<Option<f32>> {
        series.iter().map(|v| v.map(|v| v as f32)).collect()
    }

    #[test]
    fn csv_header_and_rows_keep_their_layout() {
        let csv = history().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,\
             grad_norm_0.weight,grad_norm_0.bias"
        );
        assert_eq!(lines.len(), 4);
        // Epoch 2 has no validation set: two empty cells.
        assert!(lines[2].starts_with("2,0.005,"), "{}", lines[2]);
        assert_eq!(lines[2].split(',').nth(4), Some(""));
        assert_eq!(lines[2].split(',').nth(5), Some(""));
        assert!(csv.ends_with('\n'));
    }

    #[test]
    fn write_then_read_gives_the_same_figures() {
        let h = history();
        let expected = h.table();
        let back = HistoryTable::from_csv(&h.to_csv(), "h.csv").unwrap();
        assert_eq!(back.epochs, expected.epochs);
        assert_eq!(back.lr, expected.lr, "the learning rate is an exact f64");
        for (got, want) in [
            (&back.train_loss, &expected.train_loss),
            (&back.train_accuracy, &expected.train_accuracy),
            (&back.val_loss, &expected.val_loss),
            (&back.val_accuracy, &expected.val_accuracy),
        ] {
            assert_eq!(narrowed(got), narrowed(want));
        }
        assert_eq!(back.grad_norms.len(), 2);
        for ((name, got), (want_name, want)) in back.grad_norms.iter().zip(&expected.grad_norms) {
            assert_eq!(name, want_name);
            assert_eq!(narrowed(got), narrowed(want));
        }
        // And the table of the history is its exact widening.
        assert_eq!(
            narrowed(&expected.train_loss),
            h.epochs
                .iter()
                .map(|e| Some(e.train_loss))
                .collect::<Vec<_>>()
        );
        assert!(back.has_accuracy());
        assert_eq!(back.len(), 3);
    }

    #[test]
    fn regression_history_has_empty_accuracy_cells() {
        let mut h = history();
        for e in &mut h.epochs {
            e.train_accuracy = None;
            if let Some(v) = &mut e.val {
                v.accuracy = None;
            }
        }
        let back = HistoryTable::from_csv(&h.to_csv(), "h.csv").unwrap();
        assert!(!back.has_accuracy());
        assert_eq!(back.val_loss.iter().filter(|v| v.is_some()).count(), 2);
    }

    #[test]
    fn other_tools_column_names_are_read() {
        let text = "\"Epoch\",Loss,Val_Acc,grad_norm:0.weight,grad_norm[2.weight],notes\n\
                    \n\
                    1,0.5,0.7,0.1,0.2,first\n\
                    2,0.25,,0.05,,\n";
        let t = HistoryTable::from_csv(text, "other.csv").unwrap();
        assert_eq!(t.epochs, [1.0, 2.0]);
        assert_eq!(t.train_loss, [Some(0.5), Some(0.25)]);
        assert_eq!(t.val_accuracy, [Some(0.7), None]);
        assert_eq!(t.lr, [None, None]);
        assert_eq!(
            t.grad_norms[0],
            ("0.weight".to_string(), vec![Some(0.1), Some(0.05)])
        );
        assert_eq!(
            t.grad_norms[1],
            ("2.weight".to_string(), vec![Some(0.2), None])
        );
        // Without an epoch column the row number stands in.
        let t = HistoryTable::from_csv("loss\n3\n2\n", "x").unwrap();
        assert_eq!(t.epochs, [1.0, 2.0]);
    }

    fn data_error(text: &str) -> (Option<usize>, Option<String>, String, String) {
        let e = HistoryTable::from_csv(text, "bad.csv").unwrap_err();
        let shown = e.to_string();
        match e {
            Error::Data {
                source_name,
                line,
                column,
                msg,
            } => {
                assert_eq!(source_name, "bad.csv");
                (line, column, msg, shown)
            }
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_number_names_its_line_and_column() {
        let (line, column, msg, shown) =
            data_error("epoch,lr,train_loss\n1,0.1,0.5\n\n3,0.1,1e-3x\n");
        assert_eq!(line, Some(4), "blank lines still count");
        assert_eq!(column.as_deref(), Some("3 (train_loss)"));
        assert_eq!(msg, "'1e-3x' is not a number");
        assert_eq!(
            shown,
            "bad.csv, line 4, column 3 (train_loss): '1e-3x' is not a number"
        );
        let (line, column, _, _) = data_error("epoch,train_loss,grad_norm_0.weight\n1,0.5,big\n");
        assert_eq!(
            (line, column.as_deref()),
            (Some(2), Some("3 (grad_norm_0.weight)"))
        );
    }

    #[test]
    fn a_wrong_header_empty_file_or_no_rows_is_refused() {
        let (line, column, msg, _) = data_error("\n\nname,age,city\nann,3,x\n");
        assert_eq!((line, column), (Some(3), None));
        assert!(msg.contains("no column to plot"), "{msg}");
        assert!(msg.contains("found: name, age, city"), "{msg}");

        let (line, _, msg, _) = data_error("  \n");
        assert_eq!(line, None);
        assert!(msg.contains("is empty"), "{msg}");

        let (_, _, msg, _) = data_error(&History::default().to_csv());
        assert!(msg.contains("header but no epochs"), "{msg}");
    }

    #[test]
    fn read_csv_names_a_missing_file() {
        let path = std::env::temp_dir().join("nabla-no-such-history.csv");
        let e = HistoryTable::read_csv(&path).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("nabla-no-such-history.csv"));
    }
}

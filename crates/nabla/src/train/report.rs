//! Figures computed from a trained network's outputs: raw predictions in batches, class
//! probabilities, the confusion matrix with per-class precision, recall and F1, and regression
//! errors in any units the caller chooses (for instance after undoing target standardisation).

use serde::{Deserialize, Serialize};

use super::{predicted_class, BatchSource, Metrics, OutputMetrics};
use crate::nn::{Sequential, Workspace};
use crate::{Error, Result};

/// The network's outputs on every row of `data` (`rows × outputs`, row-major), computed in batches of at most `batch` rows with the network in its current mode (call
/// `set_training(false)` first so dropout is off). The data need not have a target.
pub fn predict_outputs(net: &Sequential, data: &dyn BatchSource, batch: usize) -> Result<Vec<f32>> {
    let n = data.len();
    let d = data.n_features();
    if d != net.input_size() {
        return Err(Error::ShapeMismatch {
            op: "predict (data features vs network inputs)",
            lhs: vec![n, d],
            rhs: vec![net.input_size()],
        });
    }
    let outputs = net.output_size();
    let mut out = Vec::with_capacity(n * outputs);
    if n == 0 {
        return Ok(out);
    }
    let bs = batch.clamp(1, n);
    let mut ws = Workspace::new(net, bs)?;
    let mut x = vec![0.0f32; bs * d];
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(bs) {
        let rows = chunk.len();
        data.fill_features(chunk, &mut x[..rows * d]);
        let y = net.forward_batch(&mut ws, &x, rows)?;
        out.extend_from_slice(&y[..rows * outputs]);
    }
    Ok(out)
}

/// Class probabilities from raw outputs (`rows × outputs`): a softmax over each row when there
/// are several outputs (computed after subtracting the row's maximum, so large logits do not
/// overflow), and `[1 − σ(z), σ(z)]` for a single logit z (two classes, the logit being the
/// log-odds of the second). Returns `rows × max(outputs, 2)` values.
pub fn class_probabilities(outputs: &[f32], n_outputs: usize) -> Vec<f32> {
    if n_outputs == 0 {
        return vec![];
    }
    if n_outputs == 1 {
        let mut p = Vec::with_capacity(outputs.len() * 2);
        for &z in outputs {
            let s = crate::ops::activation::sigmoid(z);
            p.push(1.0 - s);
            p.push(s);
        }
        return p;
    }
    let mut p = Vec::with_capacity(outputs.len());
    p.resize(outputs.len() - outputs.len() % n_outputs, 0.0);
    for (row, out) in outputs
        .chunks_exact(n_outputs)
        .zip(p.chunks_exact_mut(n_outputs))
    {
        crate::ops::softmax::softmax_into(row, out);
    }
    p
}

/// The predicted class of every row of raw outputs (`rows × n_outputs`), see
/// [`predicted_class`].
pub fn predicted_classes(outputs: &[f32], n_outputs: usize) -> Vec<u32> {
    if n_outputs == 0 {
        return vec![];
    }
    outputs
        .chunks_exact(n_outputs)
        .map(|row| predicted_class(row) as u32)
        .collect()
}

/// Precision, recall and F1 of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Of the rows predicted as this class, the fraction that are (0 when none is predicted).
    pub precision: f64,
    /// Of the rows of this class, the fraction predicted as it (0 when the class has no rows).
    pub recall: f64,
    /// Harmonic mean 2PR / (P + R) (0 when P + R = 0).
    pub f1: f64,
    /// Rows of this class.
    pub support: usize,
}

/// Counts of (true class, predicted class) pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// `counts[t][p]`: rows of true class `t` predicted as `p`.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// Tally `truth` against `predicted` for `n_classes` classes. Errors when the lengths differ
    /// or a label is `>= n_classes`.
    pub fn new(n_classes: usize, truth: &[u32], predicted: &[u32]) -> Result<Self> {
        if truth.len() != predicted.len() {
            return Err(Error::ShapeMismatch {
                op: "confusion matrix (truth vs predicted)",
                lhs: vec![truth.len()],
                rhs: vec![predicted.len()],
            });
        }
        let mut counts = vec![vec![0usize; n_classes]; n_classes];
        for (&t, &p) in truth.iter().zip(predicted) {
            if t as usize >= n_classes || p as usize >= n_classes {
                return Err(Error::param(
                    "class label",
                    format!("label {} is out of range for {n_classes} classes", t.max(p)),
                ));
            }
            counts[t as usize][p as usize] += 1;
        }
        Ok(ConfusionMatrix { counts })
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.counts.len()
    }

    /// Fraction of rows on the diagonal (0 without rows).
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        let right: usize = (0..self.n_classes()).map(|k| self.counts[k][k]).sum();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }

    /// Precision, recall, F1 and support of each class, in label order.
    pub fn per_class(&self) -> Vec<ClassScores> {
        let k = self.n_classes();
        (0..k)
            .map(|c| {
                let tp = self.counts[c][c] as f64;
                let support: usize = self.counts[c].iter().sum();
                let predicted: usize = (0..k).map(|t| self.counts[t][c]).sum();
                let precision = if predicted == 0 {
                    0.0
                } else {
                    tp / predicted as f64
                };
                let recall = if support == 0 {
                    0.0
                } else {
                    tp / support as f64
                };
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassScores {
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect()
    }
}

/// Regression figures of `predicted` against `truth` (same length, in the same units):
/// `loss` = MSE, RMSE, MAE and R² = 1 − SS_res / SS_tot (0 when the truth is constant).
/// Accumulated in f64. Errors when the lengths differ or there are no values.
pub fn regression_metrics(predicted: &[f32], truth: &[f32]) -> Result<Metrics> {
    regression_metrics_by_output(predicted, truth, 1)
}

/// [`regression_metrics`] for rows of `outputs` values (row-major): each output's RMSE, MAE
/// and R² in [`Metrics::per_output`] (when `outputs > 1`), and overall `loss` = MSE and RMSE,
/// MAE over every value, R² the mean of the outputs' R². Errors when the lengths differ, there
/// are no values, or the length is not a whole number of rows.
pub fn regression_metrics_by_output(
    predicted: &[f32],
    truth: &[f32],
    outputs: usize,
) -> Result<Metrics> {
    if predicted.len() != truth.len()
        || truth.is_empty()
        || outputs == 0
        || !truth.len().is_multiple_of(outputs)
    {
        return Err(Error::ShapeMismatch {
            op: "regression metrics (predicted vs truth)",
            lhs: vec![predicted.len()],
            rhs: vec![truth.len(), outputs],
        });
    }
    let n = (truth.len() / outputs) as f64;
    let mut mean = vec![0f64; outputs];
    for row in truth.chunks_exact(outputs) {
        for (m, &t) in mean.iter_mut().zip(row) {
            *m += t as f64 / n;
        }
    }
    let (mut se, mut ae, mut ss_tot) = (
        vec![0f64; outputs],
        vec![0f64; outputs],
        vec![0f64; outputs],
    );
    for (prow, trow) in predicted
        .chunks_exact(outputs)
        .zip(truth.chunks_exact(outputs))
    {
        for j in 0..outputs {
            let e = prow[j] as f64 - trow[j] as f64;
            se[j] += e * e;
            ae[j] += e.abs();
            ss_tot[j] += (trow[j] as f64 - mean[j]).powi(2);
        }
    }
    let r2 = |j: usize| {
        if ss_tot[j] > 0.0 {
            1.0 - se[j] / ss_tot[j]
        } else {
            0.0
        }
    };
    let k = outputs as f64;
    let mse = se.iter().sum::<f64>() / (n * k);
    let per_output = match outputs {
        1 => vec![],
        _ => (0..outputs)
            .map(|j| OutputMetrics {
                rmse: (se[j] / n).sqrt() as f32,
                mae: (ae[j] / n) as f32,
                r2: r2(j) as f32,
            })
            .collect(),
    };
    Ok(Metrics {
        loss: mse as f32,
        accuracy: None,
        rmse: Some(mse.sqrt() as f32),
        mae: Some((ae.iter().sum::<f64>() / (n * k)) as f32),
        r2: Some(((0..outputs).map(r2).sum::<f64>() / k) as f32),
        per_output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Activation, MlpConfig};
    use crate::train::ArrayData;
    use crate::train::TargetData;

    #[test]
    fn probabilities_softmax_and_single_logit() {
        // Softmax of (0, ln 2, ln 3) is (1, 2, 3) / 6.
        let p = class_probabilities(&[0.0, 2f32.ln(), 3f32.ln()], 3);
        for (got, want) in p.iter().zip([1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]) {
            assert!((got - want).abs() < 1e-6, "{p:?}");
        }
        // Shifting every logit by a huge amount changes nothing.
        // (The gap is what f32 holds of ln 2 next to 1000, exactly representable as a difference.)
        let (a, b) = (1000.0f32, 1000.0f32 + 2f32.ln());
        let gap = (b - a) as f64;
        let q = class_probabilities(&[a, b], 2);
        let want1 = gap.exp() / (1.0 + gap.exp());
        assert!((q[0] as f64 - (1.0 - want1)).abs() < 1e-6 && (q[1] as f64 - want1).abs() < 1e-6);
        // One logit z = ln 3: σ = 3/4.
        let b = class_probabilities(&[3f32.ln(), -200.0], 1);
        assert!((b[0] - 0.25).abs() < 1e-6 && (b[1] - 0.75).abs() < 1e-6);
        assert!(b[3] >= 0.0 && b[3] < 1e-30 && (b[2] - 1.0).abs() < 1e-6);
        assert_eq!(
            predicted_classes(&[0.1, 0.9, 0.3, -1.0, 5.0, 0.0], 3),
            [1, 1]
        );
        assert_eq!(predicted_classes(&[0.5, -0.5, 0.0], 1), [1, 0, 0]);
    }

    #[test]
    fn confusion_matrix_and_scores_by_hand() {
        // truth:     0 0 0 1 1 2
        // predicted: 0 1 0 1 2 2
        let cm = ConfusionMatrix::new(3, &[0, 0, 0, 1, 1, 2], &[0, 1, 0, 1, 2, 2]).unwrap();
        assert_eq!(cm.counts, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        assert!((cm.accuracy() - 4.0 / 6.0).abs() < 1e-12);
        let s = cm.per_class();
        // class 0: P = 2/2, R = 2/3; class 1: P = 1/2, R = 1/2; class 2: P = 1/2, R = 1.
        let want = [(1.0, 2.0 / 3.0), (0.5, 0.5), (0.5, 1.0)];
        for (sc, (p, r)) in s.iter().zip(want) {
            assert!((sc.precision - p).abs() < 1e-12 && (sc.recall - r).abs() < 1e-12);
            assert!((sc.f1 - 2.0 * p * r / (p + r)).abs() < 1e-12);
        }
        assert_eq!(s.iter().map(|c| c.support).collect::<Vec<_>>(), [3, 2, 1]);
        assert!(ConfusionMatrix::new(2, &[0, 2], &[0, 1]).is_err());
        assert!(ConfusionMatrix::new(2, &[0], &[0, 1]).is_err());
        // A class never predicted and never present scores 0, not NaN.
        let empty = ConfusionMatrix::new(3, &[0, 1], &[0, 1])
            .unwrap()
            .per_class();
        assert_eq!(
            (empty[2].precision, empty[2].recall, empty[2].f1),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn regression_metrics_by_hand() {
        // errors 1, -1, 2, 0 → MSE 6/4, MAE 4/4; truth mean 2.5, SS_tot = 2.25+0.25+0.25+2.25 = 5.
        let m = regression_metrics(&[2.0, 1.0, 5.0, 4.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((m.loss - 1.5).abs() < 1e-6);
        assert!((m.rmse.unwrap() - 1.5f32.sqrt()).abs() < 1e-6);
        assert!((m.mae.unwrap() - 1.0).abs() < 1e-6);
        assert!((m.r2.unwrap() - (1.0 - 6.0 / 5.0)).abs() < 1e-6);
        assert!(regression_metrics(&[1.0], &[1.0, 2.0]).is_err());
        assert!(regression_metrics(&[], &[]).is_err());
        // Two outputs: the first is the case above, the second predicted exactly (R² 1).
        let (p, t) = (
            [2.0, 7.0, 1.0, 8.0, 5.0, 9.0, 4.0, 6.0],
            [1.0, 7.0, 2.0, 8.0, 3.0, 9.0, 4.0, 6.0],
        );
        let m = regression_metrics_by_output(&p, &t, 2).unwrap();
        assert_eq!(m.per_output.len(), 2);
        assert!((m.per_output[0].rmse - 1.5f32.sqrt()).abs() < 1e-6);
        assert!((m.per_output[0].r2 - (1.0 - 6.0 / 5.0)).abs() < 1e-6);
        assert_eq!((m.per_output[1].rmse, m.per_output[1].r2), (0.0, 1.0));
        // Overall: the MSE over every value, the mean of the two R².
        assert!((m.loss - 6.0 / 8.0).abs() < 1e-6);
        assert!((m.r2.unwrap() - (1.0 + (1.0 - 6.0 / 5.0)) / 2.0).abs() < 1e-6);
        assert!(regression_metrics_by_output(&p[..7], &t[..7], 2).is_err());
    }

    #[test]
    fn predict_outputs_matches_the_autograd_forward() {
        let cfg = MlpConfig::new(3, [5], 2)
            .with_activation(Activation::Tanh)
            .with_seed(4);
        let mut net = Sequential::mlp(&cfg).unwrap();
        net.set_training(false);
        let x: Vec<f32> = (0..21).map(|i| (i as f32 * 0.37).sin()).collect();
        let data = ArrayData::new(x.clone(), 3, TargetData::Classes(vec![0; 7])).unwrap();
        // Batches of 3 (7 rows: 3 + 3 + 1) give the same as one pass of the autograd graph
        // built from primitive ops (an independent route).
        let got = predict_outputs(&net, &data, 3).unwrap();
        let mut h = crate::autograd::Var::constant(crate::Tensor::from_vec(x, &[7, 3]).unwrap());
        for layer in net.layers() {
            let p = layer.parameters();
            h = match layer.activation() {
                Some(a) => a.forward_var(&h),
                None => h
                    .matmul(&p[0].1.transpose().unwrap())
                    .unwrap()
                    .add(&p[1].1)
                    .unwrap(),
            };
        }
        let want = h.value().data().to_vec();
        assert_eq!(got.len(), 14);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        let wrong = ArrayData::new(vec![0.0; 4], 2, TargetData::Classes(vec![0; 2])).unwrap();
        assert!(predict_outputs(&net, &wrong, 4).is_err());
    }
}

//! Warnings about training going wrong, read from the per-epoch figures: gradients that vanish
//! before they reach the first layers, gradients that explode, and ReLU units that died.
//!
//! Each warning names the layer and suggests a remedy. A [`DiagnosticsMonitor`] is fed one
//! [`EpochRecord`] at a time and reports each kind of problem once per layer.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::EpochRecord;

/// Ratio of a layer's gradient norm to the output layer's below which it counts as vanishing.
pub const VANISHING_RATIO: f32 = 1e-3;
/// Consecutive epochs of vanishing gradients before a warning.
pub const VANISHING_EPOCHS: usize = 3;
/// Growth of a layer's gradient norm over its first epoch's that counts as exploding.
pub const EXPLODING_GROWTH: f32 = 1e3;
/// Fraction of a ReLU layer's units that output 0 on a whole epoch that counts as dying.
pub const DEAD_FRACTION: f32 = 0.5;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The layer's gradient is a vanishing fraction of the output layer's.
    VanishingGradient,
    /// The layer's gradient grew by orders of magnitude, or is not finite.
    ExplodingGradient,
    /// Most of the layer's ReLU units output 0 for every example.
    DeadUnits,
}

/// One diagnosis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// What went wrong.
    pub kind: WarningKind,
    /// Module index of the linear layer (its parameters are `{layer}.weight`, `{layer}.bias`).
    pub layer: usize,
    /// Epoch (1-based) at which it was seen.
    pub epoch: usize,
    /// One line for a person: what, where, and what to try.
    pub message: String,
}

/// Watches the epochs of a run and reports problems once per kind and layer.
#[derive(Clone, Debug, Default)]
pub struct DiagnosticsMonitor {
    first_norm: BTreeMap<usize, f32>,
    vanishing_streak: BTreeMap<usize, usize>,
    reported: BTreeSet<(WarningKind, usize)>,
}

fn weight_norms(rec: &EpochRecord) -> Vec<(usize, f32)> {
    rec.grad_norms
        .iter()
        .filter_map(|(name, g)| {
            let layer = name.strip_suffix(".weight")?.parse::<usize>().ok()?;
            Some((layer, *g))
        })
        .collect()
}

impl DiagnosticsMonitor {
    /// A monitor that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Look at one more epoch; returns the new warnings.
    pub fn observe(&mut self, rec: &EpochRecord) -> Vec<Warning> {
        let mut out = vec![];
        let norms = weight_norms(rec);
        let Some(&(output_layer, output_norm)) = norms.last() else {
            return out;
        };
        for &(layer, norm) in &norms {
            // Exploding: non-finite, or grown by EXPLODING_GROWTH over the first epoch.
            let first = *self.first_norm.entry(layer).or_insert(norm);
            if !norm.is_finite() || (first > 0.0 && norm / first >= EXPLODING_GROWTH) {
                let msg = if norm.is_finite() {
                    format!(
                        "exploding gradients in layer {layer}: the gradient norm of {layer}.weight grew from {first:.3e} to {norm:.3e} (×{:.0}); lower the learning rate or clip gradients",
                        norm / first
                    )
                } else {
                    format!(
                        "exploding gradients in layer {layer}: the gradient norm of {layer}.weight is {norm}; lower the learning rate or clip gradients"
                    )
                };
                self.report(
                    &mut out,
                    WarningKind::ExplodingGradient,
                    layer,
                    rec.epoch,
                    msg,
                );
            }
            // Vanishing: far below the output layer's, for several epochs in a row.
            if layer != output_layer {
                let streak = self.vanishing_streak.entry(layer).or_insert(0);
                if output_norm > 0.0 && norm < VANISHING_RATIO * output_norm {
                    *streak += 1;
                } else {
                    *streak = 0;
                }
                if *streak >= VANISHING_EPOCHS {
                    let msg = format!(
                        "vanishing gradients in layer {layer}: the gradient norm of {layer}.weight ({norm:.3e}) has been below {VANISHING_RATIO:e} of the output layer's ({output_norm:.3e}) for {} epochs; try ReLU with He initialisation (--activation relu --init he)",
                        *streak
                    );
                    self.report(
                        &mut out,
                        WarningKind::VanishingGradient,
                        layer,
                        rec.epoch,
                        msg,
                    );
                }
            }
        }
        for l in &rec.layers {
            if l.activation == "relu" && l.dead_fraction > DEAD_FRACTION {
                let msg = format!(
                    "dying ReLU units in layer {}: {:.0}% of its units output 0 for every example of epoch {}; try leaky ReLU (--activation leaky_relu) or a lower learning rate",
                    l.layer,
                    100.0 * l.dead_fraction,
                    rec.epoch
                );
                self.report(&mut out, WarningKind::DeadUnits, l.layer, rec.epoch, msg);
            }
        }
        out
    }

    fn report(
        &mut self,
        out: &mut Vec<Warning>,
        kind: WarningKind,
        layer: usize,
        epoch: usize,
        message: String,
    ) {
        if self.reported.insert((kind, layer)) {
            out.push(Warning {
                kind,
                layer,
                epoch,
                message,
            });
        }
    }
}

/// Read a whole history at once (for reports): every warning in epoch order.
pub fn diagnose(epochs: &[EpochRecord]) -> Vec<Warning> {
    let mut m = DiagnosticsMonitor::new();
    epochs.iter().flat_map(|r| m.observe(r)).collect()
}

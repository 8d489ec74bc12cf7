//! Differentiable operations: one family per file, forward and derivative side by side.
mod stub_for_nn;

//! Differentiable operations: one family per file, forward and derivative side by side.

//! Loss functions (to be written).

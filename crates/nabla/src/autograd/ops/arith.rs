//! Sum, difference, product and quotient with broadcasting, negation, and scalar shifts/scales.
//!
//! For broadcast operands the gradient is summed back to each operand's own shape with
//! [`Tensor::sum_to_shape`]: an element that was copied to several outputs receives the sum of
//! their gradients. Every rule here is one text run on tensors and on graph nodes
//! ([`rule_twice!`]), so each has second derivatives.

use super::rule_twice;
use crate::autograd::Var;
use crate::{Element, Result};

impl<E: Element> Var<E> {
    /// `self + other` with NumPy broadcasting; errors if the shapes do not broadcast.
    pub fn add(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().add(&other.value())?;
        Ok(self.binary_op(
            other,
            value,
            "add",
            rule_twice!(|g, a, _b, _y| g.sum_to_shape(&a.shape())),
            rule_twice!(|g, _a, b, _y| g.sum_to_shape(&b.shape())),
        ))
    }

    /// `self − other` with broadcasting.
    pub fn sub(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().sub(&other.value())?;
        Ok(self.binary_op(
            other,
            value,
            "sub",
            rule_twice!(|g, a, _b, _y| g.sum_to_shape(&a.shape())),
            rule_twice!(|g, _a, b, _y| Ok(g.sum_to_shape(&b.shape())?.neg())),
        ))
    }

    /// `self ⊙ other` (elementwise) with broadcasting.
    pub fn mul(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().mul(&other.value())?;
        // ∂(ab)/∂a = b, ∂(ab)/∂b = a.
        Ok(self.binary_op(
            other,
            value,
            "mul",
            rule_twice!(|g, a, b, _y| g.mul(b)?.sum_to_shape(&a.shape())),
            rule_twice!(|g, a, b, _y| g.mul(a)?.sum_to_shape(&b.shape())),
        ))
    }

    /// `self / other` (elementwise) with broadcasting.
    pub fn div(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().div(&other.value())?;
        // ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b² = −(a/b)/b.
        Ok(self.binary_op(
            other,
            value,
            "div",
            rule_twice!(|g, a, b, _y| g.div(b)?.sum_to_shape(&a.shape())),
            rule_twice!(|g, _a, b, y| g.mul(y)?.div(b)?.neg().sum_to_shape(&b.shape())),
        ))
    }

    /// −self.
    pub fn neg(&self) -> Var<E> {
        let value = self.value().neg();
        self.unary_op(value, "neg", rule_twice!(|g, _x, _y| Ok(g.neg())))
    }

    /// `self + s` for a constant scalar `s`.
    pub fn add_scalar(&self, s: E) -> Var<E> {
        let value = self.value().add_scalar(s);
        self.unary_op(value, "add_scalar", rule_twice!(|g, _x, _y| Ok(g.clone())))
    }

    /// `self − s` for a constant scalar `s`.
    pub fn sub_scalar(&self, s: E) -> Var<E> {
        self.add_scalar(-s)
    }

    /// `self · s` for a constant scalar `s`.
    pub fn mul_scalar(&self, s: E) -> Var<E> {
        let value = self.value().mul_scalar(s);
        self.unary_op(
            value,
            "mul_scalar",
            rule_twice!(|g, _x, _y| Ok(g.mul_scalar(s))),
        )
    }

    /// `self / s` for a constant scalar `s` (multiplication by 1/s).
    pub fn div_scalar(&self, s: E) -> Var<E> {
        self.mul_scalar(E::ONE / s)
    }
}

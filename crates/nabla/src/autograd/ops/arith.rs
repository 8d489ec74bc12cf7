//! Sum, difference, product and quotient with broadcasting, negation, and scalar shifts/scales.
//!
//! For broadcast operands the gradient is summed back to each operand's own shape with
//! [`Tensor::sum_to_shape`]: an element that was copied to several outputs receives the sum of
//! their gradients.

use crate::autograd::{Backward, Var};
use crate::{Element, Result, Tensor};

struct AddBackward;

impl<E: Element> Backward<E> for AddBackward {
    fn name(&self) -> &'static str {
        "add"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let da = if needs[0] {
            Some(g.sum_to_shape(inputs[0].shape())?)
        } else {
            None
        };
        let db = if needs[1] {
            Some(g.sum_to_shape(inputs[1].shape())?)
        } else {
            None
        };
        Ok(vec![da, db])
    }
}

struct SubBackward;

impl<E: Element> Backward<E> for SubBackward {
    fn name(&self) -> &'static str {
        "sub"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let da = if needs[0] {
            Some(g.sum_to_shape(inputs[0].shape())?)
        } else {
            None
        };
        let db = if needs[1] {
            Some(g.sum_to_shape(inputs[1].shape())?.neg())
        } else {
            None
        };
        Ok(vec![da, db])
    }
}

struct MulBackward;

impl<E: Element> Backward<E> for MulBackward {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let (a, b) = (inputs[0], inputs[1]);
        // ∂(ab)/∂a = b, ∂(ab)/∂b = a.
        let da = if needs[0] {
            Some(g.mul(b)?.sum_to_shape(a.shape())?)
        } else {
            None
        };
        let db = if needs[1] {
            Some(g.mul(a)?.sum_to_shape(b.shape())?)
        } else {
            None
        };
        Ok(vec![da, db])
    }
}

struct DivBackward;

impl<E: Element> Backward<E> for DivBackward {
    fn name(&self) -> &'static str {
        "div"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let (a, b) = (inputs[0], inputs[1]);
        // ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b² = −(a/b)/b.
        let da = if needs[0] {
            Some(g.div(b)?.sum_to_shape(a.shape())?)
        } else {
            None
        };
        let db = if needs[1] {
            Some(g.mul(out)?.div(b)?.neg().sum_to_shape(b.shape())?)
        } else {
            None
        };
        Ok(vec![da, db])
    }
}

struct NegBackward;

impl<E: Element> Backward<E> for NegBackward {
    fn name(&self) -> &'static str {
        "neg"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        _inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(g.neg())])
    }
}

struct AddScalarBackward;

impl<E: Element> Backward<E> for AddScalarBackward {
    fn name(&self) -> &'static str {
        "add_scalar"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        _inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(g.clone())])
    }
}

struct MulScalarBackward<E> {
    factor: E,
}

impl<E: Element> Backward<E> for MulScalarBackward<E> {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        _inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(g.mul_scalar(self.factor))])
    }
}

impl<E: Element> Var<E> {
    /// `self + other` with NumPy broadcasting; errors if the shapes do not broadcast.
    pub fn add(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().add(&other.value())?;
        Ok(Var::from_op(
            value,
            AddBackward,
            vec![self.clone(), other.clone()],
        ))
    }

    /// `self − other` with broadcasting.
    pub fn sub(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().sub(&other.value())?;
        Ok(Var::from_op(
            value,
            SubBackward,
            vec![self.clone(), other.clone()],
        ))
    }

    /// `self ⊙ other` (elementwise) with broadcasting.
    pub fn mul(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().mul(&other.value())?;
        Ok(Var::from_op(
            value,
            MulBackward,
            vec![self.clone(), other.clone()],
        ))
    }

    /// `self / other` (elementwise) with broadcasting.
    pub fn div(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().div(&other.value())?;
        Ok(Var::from_op(
            value,
            DivBackward,
            vec![self.clone(), other.clone()],
        ))
    }

    /// −self.
    pub fn neg(&self) -> Var<E> {
        let value = self.value().neg();
        Var::from_op(value, NegBackward, vec![self.clone()])
    }

    /// `self + s` for a constant scalar `s`.
    pub fn add_scalar(&self, s: E) -> Var<E> {
        let value = self.value().add_scalar(s);
        Var::from_op(value, AddScalarBackward, vec![self.clone()])
    }

    /// `self − s` for a constant scalar `s`.
    pub fn sub_scalar(&self, s: E) -> Var<E> {
        self.add_scalar(-s)
    }

    /// `self · s` for a constant scalar `s`.
    pub fn mul_scalar(&self, s: E) -> Var<E> {
        let value = self.value().mul_scalar(s);
        Var::from_op(value, MulScalarBackward { factor: s }, vec![self.clone()])
    }

    /// `self / s` for a constant scalar `s` (multiplication by 1/s).
    pub fn div_scalar(&self, s: E) -> Var<E> {
        self.mul_scalar(E::ONE / s)
    }
}

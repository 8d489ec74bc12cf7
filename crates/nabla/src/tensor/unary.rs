//! Elementwise functions of one tensor.
//!
//! Numerically delicate ones are written to stay finite: `sigmoid` never evaluates `exp` of a
//! large positive number, and `softplus` is `max(x, 0) + ln(1 + e^{-|x|})`.

use super::{Element, Tensor};

use crate::ops::activation as act;

impl<E: Element> Tensor<E> {
    /// Apply `f` to every element.
    pub fn map(&self, f: impl Fn(E) -> E) -> Tensor<E> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    /// Apply `f` to every element in place.
    pub fn map_inplace(&mut self, f: impl Fn(E) -> E) {
        self.data.iter_mut().for_each(|x| *x = f(*x));
    }

    /// −x.
    pub fn neg(&self) -> Tensor<E> {
        self.map(|x| -x)
    }

    /// x^p for a scalar exponent (NaN for negative x with non-integer p, per IEEE `powf`).
    pub fn powf(&self, p: E) -> Tensor<E> {
        self.map(|x| x.powf(p))
    }

    /// e^x.
    pub fn exp(&self) -> Tensor<E> {
        self.map(|x| x.exp())
    }

    /// Natural logarithm (−inf at 0, NaN below).
    pub fn ln(&self) -> Tensor<E> {
        self.map(|x| x.ln())
    }

    /// Alias of [`Tensor::ln`]: the natural logarithm.
    pub fn log(&self) -> Tensor<E> {
        self.ln()
    }

    /// Square root (NaN below 0).
    pub fn sqrt(&self) -> Tensor<E> {
        self.map(|x| x.sqrt())
    }

    /// |x|.
    pub fn abs(&self) -> Tensor<E> {
        self.map(|x| x.abs())
    }

    /// sin x.
    pub fn sin(&self) -> Tensor<E> {
        self.map(|x| x.sin())
    }

    /// cos x.
    pub fn cos(&self) -> Tensor<E> {
        self.map(|x| x.cos())
    }

    /// tan x.
    pub fn tan(&self) -> Tensor<E> {
        self.map(|x| x.tan())
    }

    /// arcsin x (NaN outside [−1, 1]).
    pub fn asin(&self) -> Tensor<E> {
        self.map(|x| x.asin())
    }

    /// arccos x (NaN outside [−1, 1]).
    pub fn acos(&self) -> Tensor<E> {
        self.map(|x| x.acos())
    }

    /// arctan x.
    pub fn atan(&self) -> Tensor<E> {
        self.map(|x| x.atan())
    }

    /// Logistic sigmoid 1/(1+e^{-x}); exact 0 or 1 only where the true value rounds there, never NaN.
    pub fn sigmoid(&self) -> Tensor<E> {
        self.map(act::sigmoid)
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Tensor<E> {
        self.map(act::tanh)
    }

    /// max(x, 0).
    pub fn relu(&self) -> Tensor<E> {
        self.map(act::relu)
    }

    /// x for x > 0, `alpha`·x otherwise.
    pub fn leaky_relu(&self, alpha: E) -> Tensor<E> {
        self.map(|x| act::leaky_relu(x, alpha))
    }

    /// ln(1 + e^x), computed stably as max(x, 0) + ln(1 + e^{−|x|}).
    pub fn softplus(&self) -> Tensor<E> {
        self.map(act::softplus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_and_softplus_are_stable_at_extremes() {
        let x = Tensor::from_vec(vec![-1e4f32, -50.0, 0.0, 50.0, 1e4], &[5]).unwrap();
        let s = x.sigmoid();
        assert!(s.data().iter().all(|v| v.is_finite()));
        assert_eq!(s.data()[2], 0.5);
        assert_eq!(s.data()[4], 1.0);
        assert_eq!(s.data()[0], 0.0);
        let sp = x.softplus();
        assert!(sp.data().iter().all(|v| v.is_finite()));
        assert_eq!(sp.data()[4], 1e4);
        assert!((sp.data()[2] - std::f32::consts::LN_2).abs() < 1e-7);
        // f64 against the textbook formula where it is safe.
        for &v in &[-3.0f64, -0.5, 0.7, 4.0] {
            let t = Tensor::scalar(v);
            assert!((t.sigmoid().item().unwrap() - 1.0 / (1.0 + (-v).exp())).abs() < 1e-15);
            assert!((t.softplus().item().unwrap() - (1.0 + v.exp()).ln()).abs() < 1e-15);
        }
    }

    #[test]
    fn piecewise_functions() {
        let x = Tensor::from_vec(vec![-2.0f64, 0.0, 3.0], &[3]).unwrap();
        assert_eq!(x.relu().data(), &[0.0, 0.0, 3.0]);
        assert_eq!(x.leaky_relu(0.1).data(), &[-0.2, 0.0, 3.0]);
        assert_eq!(x.abs().data(), &[2.0, 0.0, 3.0]);
        assert_eq!(x.neg().data(), &[2.0, -0.0, -3.0]);
    }
}

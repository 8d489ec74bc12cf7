//! Activation functions and their derivatives, each written once, generic over the element type.
//!
//! Kinks follow one convention everywhere (layers, tensors, the autograd graph):
//! ReLU′(0) = 0 and leaky ReLU′(0) = alpha, the left-hand slope.
//!
//! The derivatives of sigmoid and tanh are cheapest from the output a = f(z):
//! σ′ = a(1 − a), tanh′ = 1 − a². ReLU's and leaky ReLU's can be read from the output too
//! (for 0 ≤ alpha < 1 the sign of a is the sign of z), which is what lets a layer's backward
//! pass keep only its outputs.

use crate::Element;

/// The logistic function σ(z) = 1/(1 + e^−z), evaluated as 1/(1 + e^−|z|) for z ≥ 0 and
/// e^−|z|/(1 + e^−|z|) below, so that `exp` never sees a large positive number: finite for
/// every finite z, exactly 0.5 at 0. Only the numerator depends on the sign, a select rather
/// than a branch, so a batch of mixed signs costs no mispredictions.
#[inline(always)]
pub fn sigmoid<E: Element>(z: E) -> E {
    let e = (-z.abs()).exp();
    let numerator = if z >= E::ZERO { E::ONE } else { e };
    numerator / (E::ONE + e)
}

/// σ′ from the output a = σ(z): a(1 − a), at most 0.25 (at z = 0).
#[inline(always)]
pub fn sigmoid_derivative_from_output<E: Element>(a: E) -> E {
    a * (E::ONE - a)
}

/// tanh z.
#[inline(always)]
pub fn tanh<E: Element>(z: E) -> E {
    z.tanh()
}

/// tanh′ from the output a = tanh z: 1 − a².
#[inline(always)]
pub fn tanh_derivative_from_output<E: Element>(a: E) -> E {
    E::ONE - a * a
}

/// max(z, 0).
#[inline(always)]
pub fn relu<E: Element>(z: E) -> E {
    if z > E::ZERO {
        z
    } else {
        E::ZERO
    }
}

/// ReLU′(z): 1 for z > 0, 0 for z ≤ 0 (so ReLU′(0) = 0). The same test holds for the output.
#[inline(always)]
pub fn relu_derivative<E: Element>(z: E) -> E {
    if z > E::ZERO {
        E::ONE
    } else {
        E::ZERO
    }
}

/// z for z > 0, alpha·z otherwise.
#[inline(always)]
pub fn leaky_relu<E: Element>(z: E, alpha: E) -> E {
    if z > E::ZERO {
        z
    } else {
        alpha * z
    }
}

/// Leaky ReLU′(z): 1 for z > 0, alpha for z ≤ 0 (so the derivative at 0 is alpha). For
/// 0 ≤ alpha the same test holds for the output.
#[inline(always)]
pub fn leaky_relu_derivative<E: Element>(z: E, alpha: E) -> E {
    if z > E::ZERO {
        E::ONE
    } else {
        alpha
    }
}

/// softplus(z) = ln(1 + e^z), evaluated as max(z, 0) + ln(1 + e^−|z|): finite for any finite z.
#[inline(always)]
pub fn softplus<E: Element>(z: E) -> E {
    z.max(E::ZERO) + (-z.abs()).exp().ln_1p()
}

/// softplus′(z) = σ(z).
#[inline(always)]
pub fn softplus_derivative<E: Element>(z: E) -> E {
    sigmoid(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central(f: impl Fn(f64) -> f64, z: f64) -> f64 {
        let h = 1e-6;
        (f(z + h) - f(z - h)) / (2.0 * h)
    }

    #[test]
    fn derivatives_match_central_differences_in_f64() {
        for &z in &[-3.1f64, -0.4, 0.3, 2.2] {
            let s = sigmoid(z);
            assert!((sigmoid_derivative_from_output(s) - central(sigmoid, z)).abs() < 1e-9);
            let t = tanh(z);
            assert!((tanh_derivative_from_output(t) - central(tanh, z)).abs() < 1e-9);
            assert!((relu_derivative(z) - central(relu, z)).abs() < 1e-9);
            let lr = |v| leaky_relu(v, 0.1);
            assert!((leaky_relu_derivative(z, 0.1) - central(lr, z)).abs() < 1e-9);
            assert!((softplus_derivative(z) - central(softplus, z)).abs() < 1e-9);
        }
    }

    #[test]
    fn kinks_and_extremes() {
        assert_eq!(relu_derivative(0.0f32), 0.0);
        assert_eq!(leaky_relu_derivative(0.0f32, 0.2), 0.2);
        assert_eq!(sigmoid(0.0f32), 0.5);
        assert_eq!(sigmoid(-1e4f32), 0.0);
        assert_eq!(sigmoid(1e4f32), 1.0);
        assert_eq!(softplus(1e4f32), 1e4);
        assert!((softplus(0.0f64) - std::f64::consts::LN_2).abs() < 1e-15);
    }
}

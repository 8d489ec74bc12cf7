//! From a symbolic [`Expr`] to an autograd graph of [`Var<f64>`] nodes, so that the two
//! routes to a derivative (symbolic [`crate::calculus::diff`] and reverse-mode
//! [`Var::backward`]) can check each other, and so that an expression's computational graph can
//! be drawn.

use std::collections::BTreeMap;

use super::expr::{pow_f64, Expr, Func, Func2};
use crate::autograd::Var;
use crate::{Error, Result, Tensor};

/// Builds `expr` as an autograd graph over the given variables.
///
/// `variables` maps every variable name of the expression to its node (usually a
/// [`Var::parameter`] holding a scalar, so that [`Var::backward`] gives the partial derivative
/// with respect to it). Numbers and the constants `pi` and `e` become constant leaves labelled
/// with their text; a power whose exponent has no variables becomes [`Var::powf`] with the
/// exponent evaluated (so `x^2` is one node, as in the symbolic rule `(u^c)' = c*u^(c-1)*u'`);
/// any other power becomes [`Var::pow`]. `step` and `sign` have derivative 0 everywhere, and the
/// kinks follow autograd: relu′(0) = 0, |u|′(0) = 0.
///
/// The engine has `sin cos tan asin acos atan exp ln sqrt abs tanh sigmoid relu softplus` as
/// operations; the other functions are built from them, each node then given the evaluator's
/// value so that both routes agree to the last bit: sinh u = (eᵘ − e⁻ᵘ)/2, cosh u = (eᵘ + e⁻ᵘ)/2,
/// asinh u = ln(|u| + √(u² + 1)) with the sign of u, acosh u = ln(u + √(u² − 1)),
/// atanh u = (ln(1 + u) − ln(1 − u))/2, sec = 1/cos, csc = 1/sin, cot = cos/sin,
/// log10 u = ln u / ln 10, log2 u = ln u / ln 2, and max(u, v) = (u + v + |u − v|)/2,
/// min(u, v) = (u + v − |u − v|)/2 (so a tie gets the mean of the two derivatives, as in the
/// symbolic rule).
///
/// Errors with [`Error::Eval`] naming a variable that has no node.
///
/// ```
/// use std::collections::BTreeMap;
/// use nabla::autograd::Var;
/// use nabla::calculus::{parse, to_autograd};
/// use nabla::Tensor;
///
/// let f = parse("x^2*y").unwrap();
/// let x = Var::parameter(Tensor::scalar(3.0));
/// let y = Var::parameter(Tensor::scalar(2.0));
/// let vars = BTreeMap::from([("x".to_string(), x.clone()), ("y".to_string(), y.clone())]);
/// let out = to_autograd(&f, &vars).unwrap();
/// assert_eq!(out.value().item().unwrap(), 18.0);
/// out.backward().unwrap();
/// assert_eq!(x.grad().unwrap().item().unwrap(), 12.0); // 2*x*y
/// ```
pub fn to_autograd(expr: &Expr, variables: &BTreeMap<String, Var<f64>>) -> Result<Var<f64>> {
    let constant = |v: f64, label: String| {
        let node = Var::scalar(v);
        node.set_label(label);
        node
    };
    Ok(match expr {
        Expr::Num(v) => constant(*v, expr.to_string()),
        Expr::Const(c) => constant(c.value(), c.name().to_string()),
        Expr::Var(name) => variables
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Eval(format!("no value for variable '{name}'")))?,
        Expr::Neg(a) => to_autograd(a, variables)?.neg(),
        Expr::Add(terms) => {
            // a + (-b) is built as a - b, so both routes round alike.
            let mut acc = to_autograd(&terms[0], variables)?;
            for t in &terms[1..] {
                acc = match t {
                    Expr::Neg(b) => acc.sub(&to_autograd(b, variables)?)?,
                    other => acc.add(&to_autograd(other, variables)?)?,
                };
            }
            acc
        }
        Expr::Mul(factors) => {
            let mut acc = to_autograd(&factors[0], variables)?;
            for f in &factors[1..] {
                acc = acc.mul(&to_autograd(f, variables)?)?;
            }
            acc
        }
        Expr::Div(a, b) => to_autograd(a, variables)?.div(&to_autograd(b, variables)?)?,
        Expr::Pow(a, b) => {
            let base = to_autograd(a, variables)?;
            if b.variables().is_empty() {
                let p = b.eval(&BTreeMap::<String, f64>::new())?;
                // powf computes x.powf(p); use the evaluator's x^p (powi for integer exponents)
                // for the value so both routes agree to the last bit, keeping powf's rule.
                let exact = base.value().map(|x| pow_f64(x, p));
                let node = base.powf(p);
                node.set_value(exact)?;
                node.set_label(format!("^{}", Expr::Num(p)));
                node
            } else {
                base.pow(&to_autograd(b, variables)?)?
            }
        }
        Expr::Call(f, a) => {
            let u = to_autograd(a, variables)?;
            let node = match f {
                Func::Sin => return Ok(u.sin()),
                Func::Cos => return Ok(u.cos()),
                Func::Tan => return Ok(u.tan()),
                Func::Asin => return Ok(u.asin()),
                Func::Acos => return Ok(u.acos()),
                Func::Atan => return Ok(u.atan()),
                Func::Exp => return Ok(u.exp()),
                Func::Ln => return Ok(u.ln()),
                Func::Sqrt => return Ok(u.sqrt()),
                Func::Abs => return Ok(u.abs()),
                Func::Tanh => return Ok(u.tanh()),
                Func::Sigmoid => return Ok(u.sigmoid()),
                Func::Relu => return Ok(u.relu()),
                Func::Softplus => return Ok(u.softplus()),
                // Piecewise constant, so the derivative is taken as 0 everywhere (the jump at 0
                // is ignored, as in [`Func::Step`] and [`Func::Sign`]).
                Func::Step | Func::Sign => {
                    let value = u.value().map(|x| f.apply(x));
                    return Ok(u.unary_op(
                        value,
                        f.name(),
                        (
                            |_g, x, _y| Ok(Tensor::zeros(x.shape())),
                            |_g, x, _y| Ok(Var::constant(Tensor::zeros(&x.shape()))),
                        ),
                    ));
                }
                Func::Sinh => u.exp().sub(&u.neg().exp())?.mul_scalar(0.5),
                Func::Cosh => u.exp().add(&u.neg().exp())?.mul_scalar(0.5),
                Func::Asinh => {
                    // ln(u + √(u² + 1)) loses its digits for u ≪ 0; asinh is odd, so build
                    // s·ln(s·u + √(u² + 1)) with s = ±1 the sign of u, a constant of the graph.
                    let sign = u.value().map(|x| if x < 0.0 { -1.0 } else { 1.0 });
                    let sign = Var::constant(sign);
                    let root = u.powf(2.0).add_scalar(1.0).sqrt();
                    sign.mul(&sign.mul(&u)?.add(&root)?.ln())?
                }
                Func::Acosh => u.add(&u.powf(2.0).sub_scalar(1.0).sqrt())?.ln(),
                Func::Atanh => u
                    .add_scalar(1.0)
                    .ln()
                    .sub(&u.neg().add_scalar(1.0).ln())?
                    .mul_scalar(0.5),
                Func::Sec => u.cos().powf(-1.0),
                Func::Csc => u.sin().powf(-1.0),
                Func::Cot => u.cos().div(&u.sin())?,
                Func::Log10 => u.ln().div_scalar(std::f64::consts::LN_10),
                Func::Log2 => u.ln().div_scalar(std::f64::consts::LN_2),
            };
            let exact = u.value().map(|x| f.apply(x));
            node.set_value(exact)?;
            node.set_label(f.name());
            node
        }
        Expr::Call2(f, a, b) => {
            let (u, v) = (to_autograd(a, variables)?, to_autograd(b, variables)?);
            let gap = u.sub(&v)?.abs();
            let sum = u.add(&v)?;
            let node = match f {
                Func2::Max => sum.add(&gap)?,
                Func2::Min => sum.sub(&gap)?,
            }
            .mul_scalar(0.5);
            let exact = u.value().zip_map(&v.value(), |x, y| f.apply(x, y))?;
            node.set_value(exact)?;
            node.set_label(f.name());
            node
        }
    })
}

//! From a symbolic [`Expr`] to an autograd graph of [`Var<f64>`] nodes, so that the two
//! routes to a derivative (symbolic [`crate::calculus::diff`] and reverse-mode
//! [`Var::backward`]) can check each other, and so that an expression's computational graph can
//! be drawn.

use std::collections::BTreeMap;

use super::expr::{pow_f64, Expr, Func};
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
            match f {
                Func::Sin => u.sin(),
                Func::Cos => u.cos(),
                Func::Tan => u.tan(),
                Func::Exp => u.exp(),
                Func::Ln => u.ln(),
                Func::Sqrt => u.sqrt(),
                Func::Abs => u.abs(),
                Func::Tanh => u.tanh(),
                Func::Sigmoid => u.sigmoid(),
                Func::Relu => u.relu(),
                Func::Softplus => u.softplus(),
                // Piecewise constant, so the derivative is taken as 0 everywhere (the jump at 0
                // is ignored, as in [`Func::Step`] and [`Func::Sign`]).
                Func::Step | Func::Sign => {
                    let value = u.value().map(|x| f.apply(x));
                    u.unary_op(value, f.name(), |_g, x, _y| Ok(Tensor::zeros(x.shape())))
                }
            }
        }
    })
}

//! The textbook cascade of two logistic neurons on one path:
//! x → (w1, b1) → a1 → (w2, b2) → a2, with E = ½(t − a2)².
//!
//! The four partial derivatives are computed twice, by autograd and by the chain rule written
//! out by hand, then one gradient-descent step shows the error fall.
//!
//! Run: `cargo run --release --example two_neurons`

use nabla::autograd::Var;
use nabla::ops::activation::sigmoid;
use nabla::Tensor;

fn error(x: f64, t: f64, w1: f64, b1: f64, w2: f64, b2: f64) -> f64 {
    let a1 = sigmoid(w1 * x + b1);
    let a2 = sigmoid(w2 * a1 + b2);
    0.5 * (t - a2).powi(2)
}

fn main() -> nabla::Result<()> {
    let (x, t) = (1.5f64, 1.0f64);
    let (w1, b1, w2, b2) = (0.8f64, 0.1f64, -1.2f64, 0.3f64);

    // Autograd, in f64.
    let p = |v: f64| Var::parameter(Tensor::scalar(v));
    let (vw1, vb1, vw2, vb2) = (p(w1), p(b1), p(w2), p(b2));
    let vx = Var::scalar(x);
    let a1 = vx.mul(&vw1)?.add(&vb1)?.sigmoid();
    let a2 = a1.mul(&vw2)?.add(&vb2)?.sigmoid();
    let e = Var::scalar(t).sub(&a2)?.powf(2.0).mul_scalar(0.5);
    e.backward()?;
    let g = |v: &Var<f64>| v.grad().expect("gradient").item().expect("scalar");

    // The chain rule by hand.
    let a1h = sigmoid(w1 * x + b1);
    let a2h = sigmoid(w2 * a1h + b2);
    let delta2 = (a2h - t) * a2h * (1.0 - a2h);
    let de_dw2 = delta2 * a1h;
    let de_db2 = delta2;
    let delta1 = delta2 * w2 * a1h * (1.0 - a1h);
    let de_dw1 = delta1 * x;
    let de_db1 = delta1;

    let e0 = e.value().item()?;
    println!(
        "forward: z1 = {:.10}, a1 = {a1h:.10}, z2 = {:.10}, a2 = {a2h:.10}, E = {e0:.10}",
        w1 * x + b1,
        w2 * a1h + b2
    );
    println!("delta2 = (a2 - t)*a2*(1 - a2) = {delta2:.12}");
    println!("delta1 = delta2*w2*a1*(1 - a1) = {delta1:.12}");
    for (name, auto, hand) in [
        ("w1", g(&vw1), de_dw1),
        ("b1", g(&vb1), de_db1),
        ("w2", g(&vw2), de_dw2),
        ("b2", g(&vb2), de_db2),
    ] {
        println!("dE/d{name} autograd={auto:.12e} chain_rule={hand:.12e}");
    }

    let lr = 0.5;
    let (n1, nb1, n2, nb2) = (
        w1 - lr * de_dw1,
        b1 - lr * de_db1,
        w2 - lr * de_dw2,
        b2 - lr * de_db2,
    );
    let e1 = error(x, t, n1, nb1, n2, nb2);
    println!("one gradient-descent step with lr = {lr}: E {e0:.10} -> {e1:.10}");
    Ok(())
}

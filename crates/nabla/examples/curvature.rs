//! Second derivatives of a network's loss: Hessian-vector products by double backward.
//!
//! A 2-6-2 tanh network's mean cross-entropy on the four rows of XOR, with its 32 parameters.
//! H·v = ∇(∇L · v) is computed by differentiating the gradient a second time
//! (`hessian_vector_product`) and checked against finite differences of the gradient; then the
//! sharpest curvature of the loss (the Hessian's largest eigenvalue) is found by power
//! iteration on H·v alone, and checked against the eigenvalues of the full 32×32 Hessian.
//!
//! Run: `cargo run --release --example curvature`

use nabla::autograd::{hessian, hessian_vector_product, Var};
use nabla::calculus::symmetric_eigenvalues;
use nabla::loss::cross_entropy;
use nabla::rng::Rng;
use nabla::{Result, Tensor};

const SHAPES: [&[usize]; 4] = [&[6, 2], &[6], &[2, 6], &[2]];

/// The loss as a function of the parameters [W1, b1, W2, b2].
fn loss(p: &[Var<f64>]) -> Result<Var<f64>> {
    let x = Var::constant(Tensor::from_vec(
        vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        &[4, 2],
    )?);
    let hidden = x.matmul(&p[0].transpose()?)?.add(&p[1])?.tanh();
    let logits = hidden.matmul(&p[2].transpose()?)?.add(&p[3])?;
    cross_entropy(&logits, &[0, 1, 1, 0])
}

fn random(rng: &mut Rng, shape: &[usize]) -> Result<Tensor<f64>> {
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.uniform(-1.0, 1.0)).collect(), shape)
}

/// ∇L at `params` by the ordinary (first-order) backward pass.
fn gradient(params: &[Tensor<f64>]) -> Result<Vec<Tensor<f64>>> {
    let leaves: Vec<Var<f64>> = params.iter().map(|t| Var::parameter(t.clone())).collect();
    loss(&leaves)?.backward()?;
    Ok(leaves
        .iter()
        .map(|l| l.grad().expect("every parameter is used"))
        .collect())
}

fn dot(a: &[Tensor<f64>], b: &[Tensor<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(a, b)| a.data().iter().zip(b.data()))
        .map(|(x, y)| x * y)
        .sum()
}

fn main() -> Result<()> {
    let mut rng = Rng::new(3);
    let params = SHAPES
        .iter()
        .map(|s| random(&mut rng, s))
        .collect::<Result<Vec<_>>>()?;
    let v = SHAPES
        .iter()
        .map(|s| random(&mut rng, s))
        .collect::<Result<Vec<_>>>()?;

    // H·v by double backward, and by central differences of the gradient along v.
    let hv = hessian_vector_product(loss, &params, &v)?;
    let eps = 1e-5;
    let shifted = |s: f64| -> Result<Vec<Tensor<f64>>> {
        params
            .iter()
            .zip(&v)
            .map(|(p, v)| p.add(&v.mul_scalar(s)))
            .collect()
    };
    let (plus, minus) = (gradient(&shifted(eps)?)?, gradient(&shifted(-eps)?)?);
    let mut worst: f64 = 0.0;
    for ((h, p), m) in hv.iter().zip(&plus).zip(&minus) {
        for ((&h, &p), &m) in h.data().iter().zip(p.data()).zip(m.data()) {
            worst = worst.max((h - (p - m) / (2.0 * eps)).abs());
        }
    }
    println!("H·v against finite differences of the gradient: largest difference {worst:.1e}");
    println!(
        "curvature along v: vᵀHv / vᵀv = {:.6}",
        dot(&v, &hv) / dot(&v, &v)
    );

    // Power iteration: v ← H·v / |H·v| converges to the eigenvector of the eigenvalue of
    // largest magnitude, without ever forming H.
    let mut u = v.clone();
    let mut eigenvalue = 0.0;
    for step in 1..=100 {
        let norm = dot(&u, &u).sqrt();
        u = u.iter().map(|t| t.mul_scalar(1.0 / norm)).collect();
        let hu = hessian_vector_product(loss, &params, &u)?;
        let next = dot(&u, &hu);
        let settled = (next - eigenvalue).abs() <= 1e-12 * next.abs();
        eigenvalue = next;
        u = hu;
        if settled {
            println!("power iteration: λ = {eigenvalue:.9} after {step} Hessian-vector products");
            break;
        }
    }

    // The full Hessian (32 Hessian-vector products through one gradient), for comparison.
    let h = hessian(loss, &params)?;
    let n = h.shape()[0];
    let rows: Vec<Vec<f64>> = h.data().chunks(n).map(|r| r.to_vec()).collect();
    let eigenvalues = symmetric_eigenvalues(&rows);
    let (lowest, highest) = (eigenvalues[0], eigenvalues[n - 1]);
    println!("full {n}×{n} Hessian: eigenvalues from {lowest:.9} to {highest:.9}");
    let largest = if highest.abs() >= lowest.abs() {
        highest
    } else {
        lowest
    };
    assert!(
        worst < 1e-8,
        "double backward disagrees with finite differences"
    );
    assert!(
        (eigenvalue - largest).abs() <= 1e-6 * largest.abs(),
        "power iteration {eigenvalue} vs {largest}"
    );
    Ok(())
}

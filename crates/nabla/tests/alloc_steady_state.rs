//! A steady-state training step (forward, loss, backward, optimiser step, zero_grad)
//! must not touch the heap: a counting global allocator pins the number of allocations per
//! step at zero once a warm-up step has sized every buffer.
//!
//! Everything runs in one test function so that no other test allocates concurrently; the
//! counter covers every thread (the matrix products may run on rayon's workers).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

mod common;

use nabla::loss::{Loss, Targets};
use nabla::nn::{Activation, ActivationLayer, Linear, Sequential, Workspace};
use nabla::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use nabla::rng::splitmix_uniform;
use nabla::Tensor;

/// The system allocator, counting allocations and reallocations while `COUNTING` is set.
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Heap allocations made by `f`, on any thread.
fn allocations_during(f: impl FnOnce()) -> usize {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst)
}

fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    (0..n as u64)
        .map(|i| splitmix_uniform(seed, i, lo, hi) as f32)
        .collect()
}

fn net(dims: &[usize], hidden: Activation, output: Activation, seed: u64) -> Sequential {
    let mut net = Sequential::new(&[dims[0]]);
    for l in 0..dims.len() - 1 {
        let bound = 1.0 / (dims[l] as f64).sqrt();
        let w = uniform(seed + 2 * l as u64, dims[l] * dims[l + 1], -bound, bound);
        let b = uniform(seed + 2 * l as u64 + 1, dims[l + 1], -bound, bound);
        let lin = Linear::from_tensors(
            Tensor::from_vec(w, &[dims[l + 1], dims[l]]).unwrap(),
            Tensor::from_vec(b, &[dims[l + 1]]).unwrap(),
        )
        .unwrap();
        net.push(lin);
        let act = if l + 2 < dims.len() { hidden } else { output };
        if act != Activation::Identity {
            net.push(ActivationLayer(act));
        }
    }
    net
}

/// Train `net` for a warm-up step and then `steps` counted steps on one fixed batch; returns
/// the allocations of each counted step and the losses of all steps.
fn count_steps(
    net: &Sequential,
    x: &[f32],
    rows: usize,
    targets: Targets<'_>,
    loss: Loss,
    momentum: f64,
    steps: usize,
) -> (Vec<usize>, Vec<f32>) {
    let mut ws = Workspace::new(net, rows).unwrap();
    let mut opt = Sgd::new(
        net.parameters(),
        SgdConfig {
            lr: 0.01,
            momentum,
            ..SgdConfig::default()
        },
    )
    .unwrap();
    let mut losses = vec![0.0f32; steps + 1];
    let mut step = |i: usize| {
        opt.zero_grad();
        losses[i] = net.loss_backward(&mut ws, x, rows, targets, loss).unwrap();
        opt.step().unwrap();
    };
    step(0); // warm-up: gradient slots and momentum buffers are created here
    let counts = (1..=steps)
        .map(|i| allocations_during(|| step(i)))
        .collect();
    (counts, losses)
}

#[test]
fn training_steps_allocate_nothing_after_warm_up() {
    // The thread count comes from rayon's global pool, whose workers start on its first use
    // and allocate as they start (three allocations each), on their own threads and in their
    // own time: on a busy machine that fell inside a counted step. Have them all running
    // before anything is counted.
    rayon::broadcast(|_| ());
    // Sanity: the counter does see allocations.
    let seen = allocations_during(|| {
        std::hint::black_box(vec![1u8; 64]);
    });
    assert!(seen >= 1, "the counting allocator saw no allocation");

    // 1. Tiny sigmoid net with SSE (the XOR shape): the plain-loop products.
    let xor = net(&[2, 8, 1], Activation::Sigmoid, Activation::Sigmoid, 200);
    let x = [0f32, 0., 0., 1., 1., 0., 1., 1.];
    let t = [0f32, 1., 1., 0.];
    let (counts, losses) = count_steps(&xor, &x, 4, Targets::Values(&t), Loss::Sse, 0.0, 5);
    assert_eq!(counts, vec![0; 5], "XOR-shaped steps allocated");
    assert!(losses.iter().all(|l| l.is_finite()));

    // 2. Classifier with momentum, large enough for the blocked (and threaded) products, and
    //    batch 1 (vector products).
    let mlp = net(
        &[784, 256, 128, 10],
        Activation::Relu,
        Activation::Identity,
        100,
    );
    for rows in [128usize, 1] {
        let x = uniform(1, rows * 784, 0.0, 1.0);
        let classes: Vec<u32> = (0..rows as u32).map(|i| (i * 7) % 10).collect();
        let (counts, losses) = count_steps(
            &mlp,
            &x,
            rows,
            Targets::Classes(&classes),
            Loss::CrossEntropy,
            0.9,
            5,
        );
        assert_eq!(counts, vec![0; 5], "batch-{rows} steps allocated");
        assert!(losses.iter().all(|l| l.is_finite()));
    }

    // 2b. Adam on the same classifier: its update and the gradient clearing are shared among
    //     the product threads (one run of values each), still without allocating.
    let x = uniform(2, 128 * 784, 0.0, 1.0);
    let classes: Vec<u32> = (0..128u32).map(|i| (i * 3) % 10).collect();
    let mut ws = Workspace::new(&mlp, 128).unwrap();
    let mut adam = Adam::new(mlp.parameters(), AdamConfig::default()).unwrap();
    let mut adam_step = || {
        adam.zero_grad();
        let l = mlp
            .loss_backward(
                &mut ws,
                &x,
                128,
                Targets::Classes(&classes),
                Loss::CrossEntropy,
            )
            .unwrap();
        adam.step().unwrap();
        l
    };
    adam_step();
    let counts: Vec<usize> = (0..5)
        .map(|_| {
            allocations_during(|| {
                assert!(adam_step().is_finite());
            })
        })
        .collect();
    assert_eq!(counts, vec![0; 5], "Adam steps allocated");

    // 3. A model with a layer defined outside the library (tests/common) and dropout.
    let mut custom = net(&[6, 16, 3], Activation::Tanh, Activation::Identity, 300);
    let mut with_custom = Sequential::new(&[6]);
    with_custom.push(common::ScaleShift::<f32>::new(6));
    for layer in std::mem::replace(&mut custom, Sequential::new(&[6])).into_layers() {
        with_custom.push_boxed(layer);
    }
    with_custom.push(nabla::nn::Dropout::new(0.25, 7).unwrap());
    let x = uniform(3, 32 * 6, -1.0, 1.0);
    let classes: Vec<u32> = (0..32u32).map(|i| i % 3).collect();
    let (counts, losses) = count_steps(
        &with_custom,
        &x,
        32,
        Targets::Classes(&classes),
        Loss::CrossEntropy,
        0.9,
        5,
    );
    assert_eq!(
        counts,
        vec![0; 5],
        "steps of the custom-layer model allocated"
    );
    assert!(losses.iter().all(|l| l.is_finite()));
}

//! A steady-state optimiser step allocates nothing: state buffers are made on a parameter's
//! first update and reused afterwards. Counted with a global allocator that tallies the
//! allocations made by this thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nabla::autograd::Var;
use nabla::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Lbfgs, LbfgsConfig, LineSearch, Optimizer, Quickprop,
    QuickpropConfig, RmsProp, RmsPropConfig, Rprop, RpropConfig, Sgd, SgdConfig,
};
use nabla::Tensor;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(|c| c.get())
}

#[test]
fn steady_state_steps_do_not_allocate() {
    type Factory = fn(Vec<Var<f32>>) -> Box<dyn Optimizer>;
    let factories: Vec<(&str, Factory)> = vec![
        ("sgd", |p| {
            let cfg = SgdConfig {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 0.1,
                ..Default::default()
            };
            Box::new(Sgd::new(p, cfg).unwrap())
        }),
        ("adam", |p| {
            let cfg = AdamConfig {
                amsgrad: true,
                weight_decay: 0.1,
                ..Default::default()
            };
            Box::new(Adam::new(p, cfg).unwrap())
        }),
        ("adamw", |p| {
            Box::new(AdamW::new(p, AdamWConfig::default()).unwrap())
        }),
        ("rmsprop", |p| {
            let cfg = RmsPropConfig {
                momentum: 0.9,
                centered: true,
                ..Default::default()
            };
            Box::new(RmsProp::new(p, cfg).unwrap())
        }),
        ("rprop", |p| {
            Box::new(Rprop::new(p, RpropConfig::default()).unwrap())
        }),
        ("quickprop", |p| {
            Box::new(Quickprop::new(p, QuickpropConfig::default()).unwrap())
        }),
    ];
    for (label, make) in factories {
        let params = vec![
            Var::parameter(Tensor::from_vec(vec![0.5f32; 64], &[8, 8]).unwrap()),
            Var::parameter(Tensor::from_vec(vec![-0.25f32; 8], &[8]).unwrap()),
        ];
        for p in &params {
            let shape = p.shape();
            *p.grad_mut() = Some(Tensor::full(&shape, 0.125f32));
        }
        let mut opt = make(params.clone());
        let before_first = allocations();
        opt.step().unwrap();
        let first = allocations() - before_first;
        assert!(
            first > 0,
            "{label}: the first step should allocate its state buffers"
        );
        let before = allocations();
        for _ in 0..5 {
            opt.zero_grad();
            opt.step().unwrap();
        }
        assert_eq!(
            allocations() - before,
            0,
            "{label}: steady-state steps allocated"
        );
    }
}

/// Write the gradient of Σ (θ − 0.3)² + 0.1 Σ θ⁴ into the existing gradient buffers, without
/// allocating, and return the loss.
fn quartic_in_place(params: &[Var<f32>]) -> f64 {
    let mut loss = 0.0f64;
    for p in params {
        let value = p.value();
        let mut grad = p.grad_mut();
        let grad = grad
            .as_mut()
            .expect("gradient slots are filled before the run");
        for (g, &x) in grad.data_mut().iter_mut().zip(value.data()) {
            *g = 2.0 * (x - 0.3) + 0.4 * x * x * x;
            let x = x as f64;
            loss += (x - 0.3).powi(2) + 0.1 * x.powi(4);
        }
    }
    loss
}

#[test]
fn lbfgs_steps_after_the_first_do_not_allocate() {
    for line_search in [LineSearch::None, LineSearch::StrongWolfe] {
        let params = vec![
            Var::parameter(Tensor::from_vec(vec![0.5f32; 64], &[8, 8]).unwrap()),
            Var::parameter(Tensor::from_vec(vec![-0.25f32; 8], &[8]).unwrap()),
        ];
        for p in &params {
            let shape = p.shape();
            *p.grad_mut() = Some(Tensor::full(&shape, 0.0f32));
        }
        // A small history that fills up and wraps within the measured steps, and no early
        // stop, so every step runs all its iterations.
        let cfg = LbfgsConfig {
            lr: 0.5,
            max_iter: 4,
            history_size: 3,
            tolerance_grad: 0.0,
            tolerance_change: 0.0,
            line_search,
            ..Default::default()
        };
        let mut opt = Lbfgs::new(params.clone(), cfg).unwrap();
        let mut objective = || -> nabla::Result<f64> { Ok(quartic_in_place(&params)) };
        let loss = quartic_in_place(&params);
        let before_first = allocations();
        opt.step_with_objective(loss, &mut objective).unwrap();
        assert!(
            allocations() > before_first,
            "the first step allocates the history"
        );
        let before = allocations();
        for _ in 0..5 {
            let loss = quartic_in_place(&params);
            opt.step_with_objective(loss, &mut objective).unwrap();
        }
        assert_eq!(
            allocations() - before,
            0,
            "lbfgs ({}): steady-state steps allocated",
            line_search.name()
        );
        assert!(opt.iterations() >= 20, "every step ran its iterations");
    }
}

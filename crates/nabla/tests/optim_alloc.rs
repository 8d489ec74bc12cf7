//! A steady-state optimiser step allocates nothing: state buffers are made on a parameter's
//! first update and reused afterwards. Counted with a global allocator that tallies the
//! allocations made by this thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nabla::autograd::Var;
use nabla::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig,
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

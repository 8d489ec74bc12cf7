//! Data-parallel training through the `Collective` trait, without MPI: N threads, each a
//! "rank" with its own network, sum their buffers through shared memory in rank order (as a
//! deterministic all-reduce does). The MPI build runs the same trainer code under `mpirun`
//! (`crates/nabla-cli/tests/mpi_cli.rs`).

use std::sync::{Arc, Barrier, Mutex};

use nabla::data::Task;
use nabla::loss::Loss;
use nabla::nn::{Activation, ActivationLayer, BatchNormConfig, Init, Linear, Sequential};
use nabla::optim::{Adam, AdamConfig, Lbfgs, LbfgsConfig, Optimizer};
use nabla::rng::Rng;
use nabla::train::{ArrayData, Collective, NoCallback, TargetData, TrainConfig, Trainer};
use nabla::Result;

/// Ranks of one process, summing through shared slots.
struct Threads {
    rank: usize,
    shared: Arc<Shared>,
}

struct Shared {
    size: usize,
    slots: Mutex<Vec<Vec<f64>>>,
    barrier: Barrier,
}

impl Threads {
    fn team(size: usize) -> Vec<Threads> {
        let shared = Arc::new(Shared {
            size,
            slots: Mutex::new(vec![vec![]; size]),
            barrier: Barrier::new(size),
        });
        (0..size)
            .map(|rank| Threads {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    /// Every rank's values, in rank order.
    fn exchange(&self, mine: Vec<f64>) -> Vec<Vec<f64>> {
        self.shared.slots.lock().unwrap()[self.rank] = mine;
        self.shared.barrier.wait();
        let all = self.shared.slots.lock().unwrap().clone();
        self.shared.barrier.wait();
        all
    }
}

impl Collective for Threads {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        // f32 values travel exactly as f64; the sum is taken in f32, in rank order.
        let all = self.exchange(buf.iter().map(|&v| v as f64).collect());
        for (i, v) in buf.iter_mut().enumerate() {
            let mut s = all[0][i] as f32;
            for r in &all[1..] {
                s += r[i] as f32;
            }
            *v = s;
        }
        Ok(())
    }
    fn sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        let all = self.exchange(buf.to_vec());
        for (i, v) in buf.iter_mut().enumerate() {
            *v = all.iter().map(|r| r[i]).sum();
        }
        Ok(())
    }
}

/// Three noisy classes in 6 features.
fn data(n: usize, seed: u64) -> ArrayData {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * 6);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = (i % 3) as u32;
        for j in 0..6 {
            let centre = if j % 3 == c as usize { 1.5 } else { 0.0 };
            x.push(centre + rng.normal() as f32);
        }
        y.push(c);
    }
    ArrayData::new(x, 6, TargetData::Classes(y)).unwrap()
}

fn net(batch_norm: bool) -> Sequential {
    let mut rng = Rng::new(7);
    let mut net =
        Sequential::new(&[6]).with(Linear::new(6, 16, Init::HeUniform, &mut rng).unwrap());
    if batch_norm {
        net.push(BatchNormConfig::new(16).init::<f32>().unwrap());
    }
    net.with(ActivationLayer(Activation::Relu))
        .with(Linear::new(16, 3, Init::XavierUniform, &mut rng).unwrap())
}

#[derive(Clone, Copy, PartialEq)]
enum Opt {
    Adam,
    Lbfgs,
}

fn optimizer(net: &Sequential, which: Opt) -> Box<dyn Optimizer> {
    match which {
        Opt::Adam => Box::new(Adam::new(net.parameters(), AdamConfig::with_lr(0.01)).unwrap()),
        Opt::Lbfgs => Box::new(Lbfgs::new(net.parameters(), LbfgsConfig::default()).unwrap()),
    }
}

fn config(shards: usize) -> TrainConfig {
    // 301 rows in batches of 64: the last batch (45 rows) cuts unevenly.
    TrainConfig::new(Loss::CrossEntropy)
        .with_epochs(6)
        .with_batch_size(64)
        .with_task(Task::Classify)
        .with_seed(3)
        .with_shards(shards)
}

type Weights = Vec<(String, Vec<f32>)>;

fn weights(net: &Sequential) -> Weights {
    net.state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.data().to_vec()))
        .collect()
}

/// One process, the batch cut into `shards`.
fn single(shards: usize, batch_norm: bool, which: Opt) -> (Weights, f64) {
    let (train, val) = (data(301, 1), data(90, 2));
    let mut net = net(batch_norm);
    let mut opt = optimizer(&net, which);
    let history = Trainer::new(&mut net, opt.as_mut(), config(shards))
        .unwrap()
        .fit(&train, Some(&val), &mut NoCallback)
        .unwrap();
    let acc = history
        .epochs
        .last()
        .unwrap()
        .val
        .as_ref()
        .unwrap()
        .accuracy
        .unwrap();
    (weights(&net), acc)
}

/// `size` ranks on threads; every rank's final weights and validation accuracy.
fn ranks(size: usize, batch_norm: bool, which: Opt) -> Vec<(Weights, f64)> {
    ranks_summing(size, batch_norm, which, false)
}

/// [`ranks`], each layer's gradient summed as its backward pass ends (`layered`).
fn ranks_summing(size: usize, batch_norm: bool, which: Opt, layered: bool) -> Vec<(Weights, f64)> {
    let handles: Vec<_> = Threads::team(size)
        .into_iter()
        .map(|c| {
            std::thread::spawn(move || {
                let (train, val) = (data(301, 1), data(90, 2));
                let mut net = net(batch_norm);
                let mut opt = optimizer(&net, which);
                let history = Trainer::new(&mut net, opt.as_mut(), config(1))
                    .unwrap()
                    .with_collective(&c)
                    .unwrap()
                    .with_layered_sums(layered)
                    .fit(&train, Some(&val), &mut NoCallback)
                    .unwrap();
                let acc = history
                    .epochs
                    .last()
                    .unwrap()
                    .val
                    .as_ref()
                    .unwrap()
                    .accuracy
                    .unwrap();
                (weights(&net), acc)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn max_diff(a: &Weights, b: &Weights) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|((ka, va), (kb, vb))| {
            assert_eq!(ka, kb);
            va.iter().zip(vb).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f32::max)
}

fn trainable(w: &Weights) -> Weights {
    w.iter()
        .filter(|(k, _)| k.ends_with("weight") || k.ends_with("bias"))
        .cloned()
        .collect()
}

#[test]
fn two_ranks_equal_one_process_with_two_shards_bit_for_bit() {
    for which in [Opt::Adam, Opt::Lbfgs] {
        let (one, acc) = single(2, false, which);
        for layered in [false, true] {
            for (w, a) in ranks_summing(2, false, which, layered) {
                assert_eq!(w, one, "every rank ends with the 2-shard weights");
                assert_eq!(a, acc, "and the same validation accuracy");
            }
        }
    }
}

#[test]
fn more_ranks_equal_one_process_with_as_many_shards() {
    // This collective adds in rank order, as the shards are added in one process; MPI may
    // add in another order (see nabla::train::collective).
    for size in [3, 4] {
        let (one, acc) = single(size, false, Opt::Adam);
        for (w, a) in ranks(size, false, Opt::Adam) {
            assert_eq!(max_diff(&w, &one), 0.0, "{size} ranks");
            assert_eq!(a, acc);
        }
    }
}

#[test]
fn shards_change_only_the_order_of_additions() {
    // The same training with the batch's gradient summed in one pass: close, not equal
    // (the order of f32 additions differs; see nabla::train::collective).
    let (one, _) = single(1, false, Opt::Adam);
    let (two, _) = single(2, false, Opt::Adam);
    let d = max_diff(&one, &two);
    assert!(d < 1e-3, "1 vs 2 shards differ by {d}");
}

#[test]
fn batch_norm_ranks_train_the_same_weights_and_average_running_statistics() {
    // Each shard normalises by its own statistics in both cases, so the trained weights are
    // the same; the running statistics differ (one process updates them shard after shard,
    // ranks average theirs at each epoch's end), and every rank ends with the same ones.
    let (one, _) = single(2, true, Opt::Adam);
    let runs = ranks_summing(2, true, Opt::Adam, true);
    for (w, _) in &runs {
        assert_eq!(trainable(w), trainable(&one));
    }
    assert_eq!(
        runs[0].0, runs[1].0,
        "ranks agree on the running statistics too"
    );
    let running = |w: &Weights| -> Vec<f32> {
        w.iter()
            .filter(|(k, _)| k.ends_with("running_mean"))
            .flat_map(|(_, v)| v.clone())
            .collect()
    };
    assert_ne!(running(&runs[0].0), running(&one));
}

#[test]
fn shards_cannot_be_combined_with_several_ranks() {
    let c = Threads::team(1).pop().unwrap();
    let team = Threads::team(2);
    let mut net = net(false);
    let mut opt = optimizer(&net, Opt::Adam);
    // One rank of one: shards are allowed.
    assert!(Trainer::new(&mut net, opt.as_mut(), config(2))
        .unwrap()
        .with_collective(&c)
        .is_ok());
    let err = Trainer::new(&mut net, opt.as_mut(), config(2))
        .unwrap()
        .with_collective(&team[0])
        .err()
        .expect("refused");
    assert!(err.to_string().contains("2 processes"), "{err}");
    assert!(TrainConfig::new(Loss::Mse)
        .with_shards(0)
        .validate()
        .is_err());
}

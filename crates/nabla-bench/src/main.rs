//! nabla's side of the peer benchmarks in `../shared/bench` (see its BASELINE.md).
//!
//! Workloads W1 (GEMM), W2 (MLP training), W3 (XOR 2-8-1) and W4 (inference), and C1's CNN
//! layer by layer (`c1-layers`, beside `bench/cnn_layers/torch_layers.py`), with the data and
//! initial weights drawn from the same counter-based splitmix64 streams as the Python and
//! candle peers, so that the loss cross-checks agree. Each result is one JSON object per line,
//! with the fields the peers print and `"peer": "nabla"`.
//!
//! Threads: `--threads N`, else `RAYON_NUM_THREADS`, else every core; the rayon global pool is
//! built with that many threads and nabla's matrix products use it.

use std::time::Instant;

mod cnn;

use nabla::loss::{Loss, Targets};
use nabla::nn::{Activation, ActivationLayer, Linear, Sequential, Workspace};
use nabla::optim::{Optimizer, Sgd, SgdConfig};
use nabla::rng::splitmix_uniform;
use nabla::tensor::gemm::{matmul_into, max_threads, Trans};
use nabla::{Error, Result, Tensor};
use serde_json::{json, Value};

const N_TRAIN: usize = 60000;
const D_IN: usize = 784;
const N_CLASS: usize = 10;

const USAGE: &str = "usage: nabla-bench w1 [--sizes 128,256,512,1024,2048] [--reps 7]
       nabla-bench w2 [--epochs 3] [--batch 128] [--hidden 256,128] [--samples 60000]
       nabla-bench w3 [--steps 10000]
       nabla-bench w4 [--iters 10000] [--iters-big 300]
       nabla-bench c1-layers [--batch 128] [--reps 30] [--warmup 5]   (C1's CNN, layer by layer)
options for all: --threads N (default: RAYON_NUM_THREADS, else every core)
Output: one JSON object per line, fields as the peer scripts in ../shared/bench print.";

/// `n` values of stream `seed`, uniform in [lo, hi), computed in f64 (as common.py does).
fn uniform_f64(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n as u64)
        .map(|i| splitmix_uniform(seed, i, lo, hi))
        .collect()
}

/// The same values cast to f32.
fn uniform_f32(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    (0..n as u64)
        .map(|i| splitmix_uniform(seed, i, lo, hi) as f32)
        .collect()
}

/// X [samples × 784] ~ U[0,1) from seed 1 and the teacher labels (argmax of (x − 0.5)·T in f64,
/// T [784 × 10] ~ U(−1,1) from seed 2).
fn mlp_data(samples: usize) -> (Vec<f32>, Vec<u32>) {
    let x = uniform_f32(1, samples * D_IN, 0.0, 1.0);
    let teacher = uniform_f64(2, D_IN * N_CLASS, -1.0, 1.0);
    let labels = x
        .chunks_exact(D_IN)
        .map(|row| {
            let mut logits = [0f64; N_CLASS];
            for (r, &xv) in row.iter().enumerate() {
                let centred = xv as f64 - 0.5;
                for (c, l) in logits.iter_mut().enumerate() {
                    *l += centred * teacher[r * N_CLASS + c];
                }
            }
            let mut best = 0;
            for c in 1..N_CLASS {
                if logits[c] > logits[best] {
                    best = c;
                }
            }
            best as u32
        })
        .collect();
    (x, labels)
}

/// A Linear layer whose weights come from the peers' stream: the peers draw W[fan_in × fan_out]
/// row-major; nabla stores [fan_out × fan_in], so the draw is transposed.
fn shared_linear(
    seed_w: u64,
    seed_b: u64,
    fan_in: usize,
    fan_out: usize,
    bound: f64,
) -> Result<Linear> {
    let drawn = uniform_f32(seed_w, fan_in * fan_out, -bound, bound);
    let mut weight = vec![0f32; fan_in * fan_out];
    for i in 0..fan_in {
        for o in 0..fan_out {
            weight[o * fan_in + i] = drawn[i * fan_out + o];
        }
    }
    let bias = uniform_f32(seed_b, fan_out, -bound, bound);
    Linear::from_tensors(
        Tensor::from_vec(weight, &[fan_out, fan_in])?,
        Tensor::from_vec(bias, &[fan_out])?,
    )
}

/// The W2/W4 network `dims[0] → … → dims[last]`, ReLU on the hidden layers, layer l drawn from
/// seeds 100+2l / 101+2l with bound 1/√fan_in.
fn mlp_net(dims: &[usize]) -> Result<Sequential> {
    let mut net = Sequential::new(&[dims[0]]);
    for l in 0..dims.len() - 1 {
        let bound = 1.0 / (dims[l] as f64).sqrt();
        let seed = 100 + 2 * l as u64;
        net.push(shared_linear(seed, seed + 1, dims[l], dims[l + 1], bound)?);
        if l + 2 < dims.len() {
            net.push(ActivationLayer(Activation::Relu));
        }
    }
    Ok(net)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

fn emit(v: Value) {
    println!("{v}");
}

/// Peak resident set size of this process in MiB (VmHWM), if /proc is there.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn w1(sizes: &[usize], reps: usize) -> Result<()> {
    for &n in sizes {
        let a = uniform_f32(11, n * n, -1.0, 1.0);
        let b = uniform_f32(12, n * n, -1.0, 1.0);
        let mut c = vec![0f32; n * n];
        let flop = 2.0 * (n as f64).powi(3);
        let inner = ((2e8 / flop).ceil() as usize).max(1);
        let mut product = || matmul_into(n, n, n, &a, Trans::No, &b, Trans::No, &mut c, false);
        for _ in 0..2 {
            product();
        }
        let mut times = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t0 = Instant::now();
            for _ in 0..inner {
                product();
            }
            times.push(t0.elapsed().as_secs_f64() / inner as f64);
        }
        std::hint::black_box(&c);
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        emit(json!({
            "workload": "W1", "peer": "nabla", "threads": max_threads(), "n": n,
            "gflops_best": round(flop / best / 1e9, 3),
            "gflops_median": round(flop / median(&times) / 1e9, 3),
            "reps": reps, "inner": inner,
        }));
    }
    Ok(())
}

fn round(v: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    (v * s).round() / s
}

/// Full-set mean cross-entropy and accuracy of `net`, evaluated in f64 (as the Python peers'
/// shared numpy evaluation does), in chunks so that no f64 copy of X is ever whole.
fn eval_f64(net: &Sequential, x: &[f32], y: &[u32]) -> Result<(f64, f64)> {
    let mut net64 = net.to_f64()?;
    net64.set_training(false);
    let chunk = 1024;
    let mut ws = Workspace::new(&net64, chunk)?;
    let mut xc64 = vec![0f64; chunk * D_IN];
    let mut grad = vec![0f64; chunk * N_CLASS];
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (xc, yc) in x.chunks(chunk * D_IN).zip(y.chunks(chunk)) {
        let rows = yc.len();
        for (d, &v) in xc64.iter_mut().zip(xc) {
            *d = v as f64;
        }
        let out = net64.forward_batch(&mut ws, &xc64[..rows * D_IN], rows)?;
        let width = out.len() / rows;
        loss +=
            Loss::CrossEntropy.value_and_grad(out, rows, width, Targets::Classes(yc), &mut grad)?
                * rows as f64;
        correct += out
            .chunks_exact(width)
            .zip(yc)
            .filter(|(row, &t)| {
                let arg = (0..width).fold(0, |best, c| if row[c] > row[best] { c } else { best });
                arg == t as usize
            })
            .count();
    }
    Ok((loss / y.len() as f64, correct as f64 / y.len() as f64))
}

fn w2(epochs: usize, batch: usize, hidden: &[usize], samples: usize) -> Result<()> {
    let t_gen = Instant::now();
    let (x, y) = mlp_data(samples);
    let gen_s = t_gen.elapsed().as_secs_f64();
    let mut counts = [0usize; N_CLASS];
    for &c in &y {
        counts[c as usize] += 1;
    }
    let mut dims = vec![D_IN];
    dims.extend_from_slice(hidden);
    dims.push(N_CLASS);
    let net = mlp_net(&dims)?;
    let mut ws = Workspace::new(&net, batch)?;
    let mut opt = Sgd::new(
        net.parameters(),
        SgdConfig {
            momentum: 0.9,
            ..SgdConfig::with_lr(0.05)
        },
    )?;
    let mut epoch_times = vec![];
    let mut first: Vec<f64> = vec![];
    let mut last_epoch_loss = 0.0;
    for ep in 0..=epochs {
        let t0 = Instant::now();
        let mut loss_sum = 0.0f64;
        let mut start = 0;
        while start < samples {
            let rows = batch.min(samples - start);
            opt.zero_grad();
            let loss = net.loss_backward(
                &mut ws,
                &x[start * D_IN..(start + rows) * D_IN],
                rows,
                Targets::Classes(&y[start..start + rows]),
                Loss::CrossEntropy,
            )? as f64;
            opt.step()?;
            if ep == 0 && first.len() < 100 {
                first.push(loss);
            }
            loss_sum += loss * rows as f64;
            start += rows;
        }
        let dt = t0.elapsed().as_secs_f64();
        last_epoch_loss = loss_sum / samples as f64;
        if ep > 0 {
            epoch_times.push(dt);
        }
    }
    let (full_loss, full_acc) = eval_f64(&net, &x, &y)?;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let flop_per_sample = {
        // forward + weight gradients (2·MACs each) + input gradients of layers 2.. (2·MACs)
        let macs: usize = dims.windows(2).map(|w| w[0] * w[1]).sum();
        let macs_in: usize = dims.windows(2).skip(1).map(|w| w[0] * w[1]).sum();
        2.0 * (2 * macs + macs_in) as f64
    };
    let sps = samples as f64 / median(&epoch_times);
    emit(json!({
        "workload": "W2", "peer": "nabla", "threads": max_threads(),
        "hidden": hidden, "batch": batch, "samples": samples, "epochs": epochs,
        "samples_per_s": round(sps, 1),
        "gflops_effective": round(sps * flop_per_sample / 1e9, 1),
        "epoch_s": epoch_times.iter().map(|t| round(*t, 4)).collect::<Vec<_>>(),
        "epoch_samples_per_s": epoch_times.iter().map(|t| round(samples as f64 / t, 1)).collect::<Vec<_>>(),
        "first25_mean_loss": if first.len() >= 25 { Some(round(mean(&first[..25]), 7)) } else { None },
        "first100_mean_loss": if first.is_empty() { None } else { Some(round(mean(&first), 7)) },
        "last_epoch_mean_loss": round(last_epoch_loss, 6),
        "final_full_loss": round(full_loss, 6), "final_acc": round(full_acc, 4),
        "class_counts": counts, "data_gen_s": round(gen_s, 2),
        "peak_rss_mib": peak_rss_mib().map(|v| round(v, 1)),
    }));
    Ok(())
}

fn w3(steps: usize) -> Result<()> {
    let x = [0f32, 0., 0., 1., 1., 0., 1., 1.];
    let t = [0f32, 1., 1., 0.];
    let mut net = Sequential::new(&[2]);
    net.push(shared_linear(200, 201, 2, 8, 1.0)?);
    net.push(ActivationLayer(Activation::Sigmoid));
    net.push(shared_linear(202, 203, 8, 1, 1.0)?);
    net.push(ActivationLayer(Activation::Sigmoid));
    let mut ws = Workspace::new(&net, 4)?;
    let mut opt = Sgd::new(net.parameters(), SgdConfig::with_lr(0.5))?;
    let mut sse_after_1000 = None;
    let t0 = Instant::now();
    for i in 0..steps {
        opt.zero_grad();
        let loss = net.loss_backward(&mut ws, &x, 4, Targets::Values(&t), Loss::Sse)?;
        opt.step()?;
        if i == 1000 {
            sse_after_1000 = Some(loss);
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    let out = net.forward_batch(&mut ws, &x, 4)?;
    let final_sse: f32 = out.iter().zip(&t).map(|(o, t)| (o - t) * (o - t)).sum();
    let sse_after_1000 = sse_after_1000.or(if steps == 1000 { Some(final_sse) } else { None });
    emit(json!({
        "workload": "W3", "peer": "nabla", "threads": max_threads(), "steps": steps,
        "us_per_step": round(dt / steps as f64 * 1e6, 3), "total_s": round(dt, 4),
        "sse_after_1000": sse_after_1000, "final_sse": final_sse,
    }));
    Ok(())
}

/// Median, 10th and 90th percentile of `iters` individually timed calls after `warm` untimed.
fn time_calls(
    mut f: impl FnMut() -> Result<()>,
    iters: usize,
    warm: usize,
) -> Result<(f64, f64, f64)> {
    for _ in 0..warm {
        f()?;
    }
    let mut ts = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t0 = Instant::now();
        f()?;
        ts.push(t0.elapsed().as_secs_f64());
    }
    ts.sort_by(|a, b| a.total_cmp(b));
    Ok((
        median(&ts),
        ts[(0.1 * ts.len() as f64) as usize],
        ts[(0.9 * ts.len() as f64) as usize],
    ))
}

fn w4(iters: usize, iters_big: usize) -> Result<()> {
    let big = 1024;
    let x = uniform_f32(1, big * D_IN, 0.0, 1.0);
    let mut net = mlp_net(&[D_IN, 256, 128, N_CLASS])?;
    net.set_training(false);
    let mut ws = Workspace::new(&net, big)?;
    let out1_sum: f64 = net
        .forward_batch(&mut ws, &x[..D_IN], 1)?
        .iter()
        .map(|&v| v as f64)
        .sum();
    let (m1, p10, p90) = time_calls(
        || {
            std::hint::black_box(net.forward_batch(&mut ws, &x[..D_IN], 1)?);
            Ok(())
        },
        iters,
        500,
    )?;
    let (mb, pb10, pb90) = time_calls(
        || {
            std::hint::black_box(net.forward_batch(&mut ws, &x, big)?);
            Ok(())
        },
        iters_big,
        20,
    )?;
    emit(json!({
        "workload": "W4", "peer": "nabla", "threads": max_threads(),
        "b1_us_median": round(m1 * 1e6, 3), "b1_us_p10": round(p10 * 1e6, 3),
        "b1_us_p90": round(p90 * 1e6, 3), "b1024_samples_per_s": round(big as f64 / mb, 1),
        "b1024_ms_median": round(mb * 1e3, 4), "b1024_ms_p10": round(pb10 * 1e3, 4),
        "b1024_ms_p90": round(pb90 * 1e3, 4), "out1_sum": out1_sum,
    }));
    Ok(())
}

/// Parsed command line: the subcommand and its `--name value` options.
struct Args {
    command: String,
    options: Vec<(String, String)>,
}

impl Args {
    fn parse(argv: &[String]) -> Result<Self> {
        let command = argv.first().cloned().unwrap_or_default();
        let mut options = vec![];
        let mut it = argv.iter().skip(1);
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(Error::param(
                    "arguments",
                    format!("unexpected argument '{a}'"),
                ));
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => {
                    let v = it.next().ok_or_else(|| {
                        Error::param("arguments", format!("--{name} needs a value"))
                    })?;
                    (name.to_string(), v.clone())
                }
            };
            options.push((name, value));
        }
        Ok(Args { command, options })
    }

    fn allow(&self, known: &[&str]) -> Result<()> {
        match self
            .options
            .iter()
            .find(|(n, _)| !known.contains(&n.as_str()) && n != "threads")
        {
            Some((n, _)) => Err(Error::param("arguments", format!("unknown option --{n}"))),
            None => Ok(()),
        }
    }

    fn list(&self, name: &str, default: &[usize]) -> Result<Vec<usize>> {
        match self.options.iter().rev().find(|(n, _)| n == name) {
            None => Ok(default.to_vec()),
            Some((_, v)) => v
                .split(',')
                .map(|s| {
                    s.trim().parse::<usize>().ok().filter(|&x| x > 0).ok_or_else(|| {
                        Error::param(
                            "arguments",
                            format!("--{name} wants positive integers separated by commas, got '{v}'"),
                        )
                    })
                })
                .collect(),
        }
    }

    fn one(&self, name: &str, default: usize) -> Result<usize> {
        let v = self.list(name, &[default])?;
        match v.as_slice() {
            [x] => Ok(*x),
            _ => Err(Error::param(
                "arguments",
                format!("--{name} wants one number"),
            )),
        }
    }
}

fn run(argv: &[String]) -> Result<()> {
    let args = Args::parse(argv)?;
    let threads = match args.options.iter().any(|(n, _)| n == "threads") {
        true => Some(args.one("threads", 1)?),
        false => std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0),
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        pool = pool.num_threads(n);
    }
    pool.build_global()
        .map_err(|e| Error::param("threads", e.to_string()))?;
    match args.command.as_str() {
        "w1" => {
            args.allow(&["sizes", "reps"])?;
            w1(
                &args.list("sizes", &[128, 256, 512, 1024, 2048])?,
                args.one("reps", 7)?,
            )
        }
        "w2" => {
            args.allow(&["epochs", "batch", "hidden", "samples"])?;
            w2(
                args.one("epochs", 3)?,
                args.one("batch", 128)?,
                &args.list("hidden", &[256, 128])?,
                args.one("samples", N_TRAIN)?,
            )
        }
        "w3" => {
            args.allow(&["steps"])?;
            w3(args.one("steps", 10000)?)
        }
        "w4" => {
            args.allow(&["iters", "iters-big"])?;
            w4(args.one("iters", 10000)?, args.one("iters-big", 300)?)
        }
        "c1-layers" => {
            args.allow(&["batch", "reps", "warmup"])?;
            cnn::c1_layers(
                args.one("batch", 128)?,
                args.one("reps", 30)?,
                args.one("warmup", 5)?,
            )
        }
        other => Err(Error::param("subcommand", format!("unknown '{other}'"))),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    if let Err(e) = run(&argv) {
        eprintln!("error: {e}");
        eprintln!("{USAGE}");
        std::process::exit(match e {
            Error::Param { .. } => 2,
            _ => 1,
        });
    }
}

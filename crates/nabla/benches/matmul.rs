//! f32 matrix product `[n, n]·[n, n]`; throughput is reported as 2n³ "elements", so criterion's
//! Gelem/s reads as GFLOP/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nabla::Tensor;
use std::hint::black_box;
use std::time::Duration;

fn square(n: usize, seed: usize) -> Tensor<f32> {
    let data = (0..n * n)
        .map(|i| ((i * 31 + seed) % 97) as f32 / 97.0 - 0.5)
        .collect();
    Tensor::from_vec(data, &[n, n]).expect("n·n elements")
}

fn bench_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_f32");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for n in [128usize, 256, 512, 1024, 2048] {
        let (a, b) = (square(n, 1), square(n, 2));
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| black_box(a.matmul(&b).expect("square shapes")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_matmul);
criterion_main!(benches);

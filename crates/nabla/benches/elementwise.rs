//! Elementwise kernels on a [128, 1024] f32 batch: broadcast add of a bias row, relu, sigmoid,
//! softmax along the last axis.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nabla::Tensor;
use std::hint::black_box;
use std::time::Duration;

fn bench_elementwise(c: &mut Criterion) {
    let (rows, cols) = (128usize, 1024usize);
    let x = Tensor::from_vec(
        (0..rows * cols)
            .map(|i| ((i * 13) % 101) as f32 / 10.0 - 5.0)
            .collect(),
        &[rows, cols],
    )
    .expect("rows·cols elements");
    let bias = Tensor::from_vec((0..cols).map(|i| i as f32 * 1e-3).collect(), &[cols])
        .expect("cols elements");
    let mut group = c.benchmark_group("elementwise_f32_128x1024");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements((rows * cols) as u64));
    group.bench_function("add_row_broadcast", |b| {
        b.iter(|| black_box(x.add(&bias).expect("row")))
    });
    group.bench_function("relu", |b| b.iter(|| black_box(x.relu())));
    group.bench_function("sigmoid", |b| b.iter(|| black_box(x.sigmoid())));
    group.bench_function("softmax", |b| {
        b.iter(|| black_box(x.softmax(1).expect("axis 1")))
    });
    group.finish();
}

criterion_group!(benches, bench_elementwise);
criterion_main!(benches);

//! `mpirun -np 2 nabla train …` on loopback (feature `mpi`; `.ci/run` runs these with
//! `cargo test --features mpi`). Needs Open MPI's `mpirun` on the PATH.
#![cfg(feature = "mpi")]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{s, tmpdir};

/// `mpirun` with the settings a container on loopback needs (root allowed, more processes than
/// cores allowed, shared memory without the single-copy mechanism) and `NABLA_MPI_TIMEOUT`.
fn mpirun(args: &[&str], timeout: &str) -> Output {
    let out = Command::new("timeout")
        .arg("300")
        .arg("mpirun")
        .args(["--oversubscribe", "--allow-run-as-root"])
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl", "self,vader")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("NABLA_MPI_TIMEOUT", timeout)
        .output()
        .expect("run mpirun (Open MPI's openmpi-bin)");
    assert_ne!(
        out.status.code(),
        Some(124),
        "mpirun hung: {}",
        stderr(&out)
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn nabla(args: &[&str]) -> Output {
    common::nabla(args)
}

const BIN: &str = env!("CARGO_BIN_EXE_nabla");

/// Every weight of a model file, by name (the metadata entries left out).
fn weights(path: &Path) -> Vec<(String, Vec<f32>)> {
    let file = nabla::io::load_safetensors(path).expect("a model file");
    let mut w: Vec<(String, Vec<f32>)> = file
        .tensors
        .into_iter()
        .filter(|(n, _)| !n.starts_with("__"))
        .map(|(n, t)| (n, t.data().to_vec()))
        .collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

fn max_diff(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|((na, va), (nb, vb))| {
            assert_eq!(na, nb);
            va.iter().zip(vb).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f32::max)
}

/// A small run with Adam on the built-in digits (its last batch cut unevenly).
const RUN: &[&str] = &[
    "train",
    "--data",
    "builtin:digits",
    "--hidden",
    "32",
    "--epochs",
    "3",
    "--batch-size",
    "50",
    "--threads",
    "1",
];

fn with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}

#[test]
fn two_processes_train_the_weights_of_one_with_two_shards() {
    let dir = tmpdir("mpi-equal");
    let (a, b, one, plain) = (
        dir.join("a.safetensors"),
        dir.join("b.safetensors"),
        dir.join("one.safetensors"),
        dir.join("plain.safetensors"),
    );
    for out in [&a, &b] {
        let o = mpirun(
            &with(&["-np", "2", BIN], &with(RUN, &["--out", s(out)])),
            "60",
        );
        assert!(o.status.success(), "{}", stderr(&o));
        // Rank 0 alone prints: one banner, one result.
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(text.matches("model saved to").count(), 1, "{text}");
        assert_eq!(stderr(&o).matches("network:").count(), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains("2 MPI processes"), "{}", stderr(&o));
    }
    // Layer by layer, overlapped with the backward pass: the same sums.
    let layered = dir.join("layered.safetensors");
    let o = mpirun(
        &with(
            &["-np", "2", BIN],
            &with(RUN, &["--allreduce", "layers", "--out", s(&layered)]),
        ),
        "60",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = nabla(&with(RUN, &["--shards", "2", "--out", s(&one)]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = nabla(&with(RUN, &["--out", s(&plain)]));
    assert!(o.status.success(), "{}", stderr(&o));
    let (wa, wb, w1, wp) = (weights(&a), weights(&b), weights(&one), weights(&plain));
    assert_eq!(wa, wb, "two mpirun -np 2 runs are bit-identical");
    assert_eq!(
        wa, w1,
        "mpirun -np 2 equals one process with --shards 2, bit for bit"
    );
    // Summed in one pass the batch's gradient differs in its last bits, and training
    // amplifies that; the weights stay close on this short run.
    let d = max_diff(&wa, &wp);
    assert!(d < 1e-2, "np 2 vs one process without shards: {d}");
}

#[test]
fn a_run_under_mpirun_resumes_with_the_same_number_of_processes_only() {
    let dir = tmpdir("mpi-resume");
    let (whole, part) = (dir.join("whole.safetensors"), dir.join("part.safetensors"));
    let o = mpirun(
        &with(&["-np", "2", BIN], &with(RUN, &["--out", s(&whole)])),
        "60",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Stopped after epoch 1 with a checkpoint, then resumed to epoch 3.
    let o = mpirun(
        &with(
            &["-np", "2", BIN],
            &with(
                RUN,
                &[
                    "--out",
                    s(&part),
                    "--checkpoint-every",
                    "1",
                    "--stop-after",
                    "1",
                ],
            ),
        ),
        "60",
    );
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    // Alone, the checkpoint is refused, naming how it was written.
    let o = nabla(&["train", "--resume", s(&part), "--out", s(&dir.join("x"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("mpirun -np 2"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    let o = mpirun(&["-np", "2", BIN, "train", "--resume", s(&part)], "60");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(weights(&part), weights(&whole), "resumed = uninterrupted");
}

#[test]
fn a_rank_that_cannot_load_its_data_ends_the_job_with_rank_0_naming_it() {
    let dir = tmpdir("mpi-fault");
    let missing = dir.join("missing.csv");
    let out = dir.join("m.safetensors");
    // Rank 0 reads the digits, rank 1 a file that does not exist (MPMD: one program line
    // per rank).
    let rank0 = with(&["-np", "1", BIN], &with(RUN, &["--out", s(&out)]));
    let mut args = rank0;
    args.extend([":", "-np", "1", BIN, "train", "--data", s(&missing)]);
    args.extend(["--hidden", "32", "--epochs", "3", "--batch-size", "50"]);
    let o = mpirun(&args, "60");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("rank 1 failed to start"), "{err}");
    assert!(
        err.contains("error: rank 1:") && err.contains("missing.csv"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn a_rank_that_stops_answering_ends_the_job_after_the_timeout() {
    let dir = tmpdir("mpi-hang");
    // Rank 1 trains one epoch and leaves; rank 0 waits for its second epoch's sums.
    let a = dir.join("a");
    let mut args = with(&["-np", "1", BIN], &with(RUN, &["--out", s(&a)]));
    let b = dir.join("b");
    args.extend([":", "-np", "1", BIN, "train", "--data", "builtin:digits"]);
    args.extend(["--hidden", "32", "--epochs", "1", "--batch-size", "50"]);
    args.extend(["--threads", "1", "--out", s(&b)]);
    let o = mpirun(&args, "5");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("did not answer within 5 s"), "{err}");
}

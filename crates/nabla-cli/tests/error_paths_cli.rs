//! Inputs that used to break a command, tried as a new user would: a target column with a label
//! the model never saw (predict ignores the column), accuracy as an exact ratio, a two-valued
//! numeric target under `--task auto`, a directory or a missing folder as `--out`, files that
//! cannot be read, model files whose tensors or metadata contradict each other or are not JSON,
//! and a closed stdout. Each ends in one line naming the problem and a non-zero exit, with no
//! panic and no file (or temporary file) left behind.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{json_of, nabla, nabla_cmd, ok, s, stderr, stdout, tmpdir};
use nabla::io::{load_safetensors, save_safetensors, META_KEY};

/// The built-in iris table as a CSV file (features and a numeric `target` column).
fn iris_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../nabla/src/data/builtin/iris.csv")
}

/// A small classifier trained on `iris.csv` into `dir/model.safetensors`.
fn iris_model(dir: &Path) -> PathBuf {
    let model = dir.join("model.safetensors");
    let data = iris_csv();
    ok(&nabla_cmd(
        "train --data {} --hidden 8 --epochs 5 --quiet --out {}",
        &[s(&data), s(&model)],
    ));
    model
}

/// A fresh folder holding [`iris_model`] and an empty folder `folder`: (the folder, the model,
/// the empty folder).
fn model_and_folder(tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let d = tmpdir(tag);
    let model = iris_model(&d);
    let folder = d.join("folder");
    std::fs::create_dir(&folder).unwrap();
    (d, model, folder)
}

/// The command failed with exit code `code` and one line on stderr, `error: …` holding every
/// one of `needles`, and no panic.
fn fails_with(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
}

/// The names of the files in `dir`.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn predict_ignores_a_target_column_with_unseen_labels_or_empty_cells() {
    let d = tmpdir("err-predict-target");
    let model = iris_model(&d);
    let want = stdout(ok(&nabla_cmd(
        "predict --model {} --data {}",
        &[s(&model), s(&iris_csv())],
    )));
    let text = std::fs::read_to_string(iris_csv()).unwrap();
    for (name, replacement) in [("unseen.csv", "unknown-label"), ("empty.csv", "")] {
        let changed: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| match (i, l.rsplit_once(',')) {
                (i, Some((features, _))) if i > 0 && i % 3 == 0 => {
                    format!("{features},{replacement}")
                }
                _ => l.to_string(),
            })
            .collect();
        let csv = d.join(name);
        std::fs::write(&csv, changed.join("\n") + "\n").unwrap();
        let got = stdout(ok(&nabla_cmd(
            "predict --model {} --data {}",
            &[s(&model), s(&csv)],
        )));
        assert_eq!(got, want, "{name}");
        // eval needs the target, so there the label is still an error, naming it.
        let o = nabla_cmd("eval --model {} --data {}", &[s(&model), s(&csv)]);
        let needle = if replacement.is_empty() {
            "empty target value".to_string()
        } else {
            format!("unknown class '{replacement}'")
        };
        fails_with(&o, 1, &[name, "line 4", &needle]);
    }
}

#[test]
fn eval_json_reports_accuracy_as_the_exact_ratio_of_its_confusion_matrix() {
    let d = tmpdir("err-accuracy");
    let model = iris_model(&d);
    let v = json_of(&nabla_cmd(
        "eval --model {} --data {} --json",
        &[s(&model), s(&iris_csv())],
    ));
    let counts: Vec<Vec<u64>> =
        serde_json::from_value(v["confusion_matrix"]["counts"].clone()).expect("counts");
    let correct: u64 = (0..counts.len()).map(|k| counts[k][k]).sum();
    let rows: u64 = counts.iter().flatten().sum();
    assert_eq!(rows, 150);
    let accuracy = v["accuracy"].as_f64().unwrap();
    assert_eq!(accuracy, correct as f64 / rows as f64, "{correct}/{rows}");
    // train --json's figures are exact ratios too: the training accuracy over its rows.
    let v = json_of(&nabla_cmd(
        "train --data {} --hidden 8 --epochs 5 --quiet --json --out {}",
        &[s(&iris_csv()), s(&d.join("again.safetensors"))],
    ));
    let n = v["train_rows_evaluated"].as_f64().unwrap();
    let acc = v["train"]["accuracy"].as_f64().unwrap();
    assert_eq!(
        acc,
        (acc * n).round() / n,
        "train accuracy {acc} over {n} rows"
    );
}

#[test]
fn task_auto_on_a_two_valued_numeric_target_says_so_with_the_flag_that_changes_it() {
    let d = tmpdir("err-auto-task");
    let csv = d.join("dose.csv");
    let mut text = String::from("x1,x2,dose\n");
    for i in 0..40 {
        let dose = if i % 3 == 0 { 10 } else { 5 };
        text.push_str(&format!("{},{},{dose}\n", i as f64 * 0.1, (i % 7) as f64));
    }
    std::fs::write(&csv, text).unwrap();
    let model = d.join("m.safetensors");
    let train = |task: &str| {
        let o = nabla(&[
            "train",
            "--data",
            s(&csv),
            "--task",
            task,
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--out",
            s(&model),
        ]);
        stderr(ok(&o))
    };
    let banner = train("auto");
    assert!(
        banner.contains(
            "task: classification, because --task auto reads a target of two numbers (5, 10) \
             as two classes; pass --task regress to fit it as values"
        ),
        "{banner}"
    );
    for task in ["classify", "regress"] {
        let banner = train(task);
        assert!(!banner.contains("--task auto reads"), "{task}: {banner}");
    }
    assert!(train("regress").contains("regression"));
}

#[test]
fn a_directory_or_a_missing_folder_as_out_fails_at_once_and_writes_nothing() {
    let (d, model, folder) = model_and_folder("err-out");
    let missing = d.join("no-such-folder").join("m.safetensors");
    let elsewhere = d.join("h.safetensors");
    let before = files_in(&d);
    let data = iris_csv();
    let (data, model) = (s(&data), s(&model));
    let (dir, gone, other) = (s(&folder), s(&missing), s(&elsewhere));
    let train = "train --data {} --epochs 1";
    for (line, values, path, needle) in [
        (
            &*format!("{train} --out {{}}"),
            vec![data, dir],
            dir,
            "is a directory",
        ),
        (
            &format!("{train} --out {{}}"),
            vec![data, gone],
            gone,
            "does not exist",
        ),
        (
            &format!("{train} --out {{}} --history {{}}"),
            vec![data, other, dir],
            dir,
            "is a directory",
        ),
        (
            "predict --model {} --data {} --out {}",
            vec![model, data, dir],
            dir,
            "is a directory",
        ),
        (
            "export --model {} --out {}",
            vec![model, dir],
            dir,
            "is a directory",
        ),
        (
            "graph x^2 --at x=1 --out {}",
            vec![dir],
            dir,
            "is a directory",
        ),
    ] {
        let o = nabla_cmd(line, &values);
        fails_with(&o, 2, &["invalid output path", path, needle]);
        // training is refused before it starts
        assert!(!stderr(&o).contains("epoch"), "{}", stderr(&o));
        assert_eq!(files_in(&d), before, "{line} left a file");
        assert!(files_in(&folder).is_empty(), "{line} wrote into the folder");
    }
}

#[test]
fn files_that_cannot_be_read_name_the_file() {
    let (d, model, folder) = model_and_folder("err-read");
    let data = iris_csv();
    fails_with(
        &nabla_cmd("predict --model {} --data {}", &[s(&folder), s(&data)]),
        1,
        &[s(&folder), "directory"],
    );
    fails_with(
        &nabla_cmd("predict --model {} --data {}", &[s(&model), s(&folder)]),
        1,
        &[s(&folder), "directory"],
    );
    fails_with(&nabla_cmd("inspect {}", &[s(&folder)]), 1, &[s(&folder)]);

    // A file without read permission (root reads it anyway, so there this part has nothing
    // to check and says so).
    let locked = d.join("locked.safetensors");
    std::fs::copy(&model, &locked).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&locked).is_ok() {
        eprintln!("note: running as root, a file without read permission is still readable");
        return;
    }
    for args in [
        vec!["inspect", s(&locked)],
        vec!["predict", "--model", s(&locked), "--data", s(&data)],
        vec!["export", "--model", s(&locked), "--out", "x.onnx"],
    ] {
        fails_with(&nabla(&args), 1, &[s(&locked), "ermission denied"]);
    }
}

/// A copy of `model` at `dir/name` whose tensors and header metadata went through `edit`.
fn edited_model(
    model: &Path,
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut Vec<(String, nabla::Tensor)>, &mut BTreeMap<String, String>),
) -> PathBuf {
    let mut file = load_safetensors(model).unwrap();
    edit(&mut file.tensors, &mut file.metadata);
    let path = dir.join(name);
    save_safetensors(&path, &file.tensors, &file.metadata).unwrap();
    path
}

/// `edit` applied to the nabla metadata as JSON.
fn edit_meta(md: &mut BTreeMap<String, String>, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut meta: serde_json::Value = serde_json::from_str(&md[META_KEY]).unwrap();
    edit(&mut meta);
    md.insert(META_KEY.into(), meta.to_string());
}

#[test]
fn model_files_whose_tensors_or_metadata_contradict_or_are_not_json_are_refused() {
    let d = tmpdir("err-model-files");
    let model = iris_model(&d);
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (
            edited_model(&model, &d, "shape.safetensors", |tensors, _| {
                let w = tensors.iter_mut().find(|(n, _)| n == "0.weight").unwrap();
                w.1 = nabla::Tensor::zeros(&[8, 5]);
            }),
            vec!["tensor '0.weight' has shape [8, 5] but the network needs [8, 4]"],
        ),
        (
            edited_model(&model, &d, "layers.safetensors", |_, md| {
                edit_meta(md, |m| {
                    m["input_shape"] = serde_json::json!([5]);
                    m["layers"][0]["in_features"] = 5.into();
                })
            }),
            vec!["tensor '0.weight' has shape [8, 4] but the network needs [8, 5]"],
        ),
        (
            edited_model(&model, &d, "missing.safetensors", |tensors, _| {
                tensors.retain(|(n, _)| n != "2.bias")
            }),
            vec!["missing tensor '2.bias'"],
        ),
        (
            edited_model(&model, &d, "notjson.safetensors", |_, md| {
                md.insert(META_KEY.into(), "{\"format_version\": 2, oops".into());
            }),
            vec!["metadata (header entry 'nabla') is not JSON", "column"],
        ),
        (
            edited_model(&model, &d, "notmeta.safetensors", |_, md| {
                edit_meta(md, |m| m["layers"] = "linear".into())
            }),
            vec!["is not a nabla model's", "expected a sequence"],
        ),
        (
            edited_model(&model, &d, "std.safetensors", |_, md| {
                edit_meta(md, |m| {
                    m["standardization"]["mean"] = serde_json::json!([0.0])
                })
            }),
            vec![
                "standardisation has 1 means and 4 standard deviations",
                "4 features",
            ],
        ),
        (
            edited_model(&model, &d, "labels.safetensors", |_, md| {
                edit_meta(md, |m| m["class_labels"] = serde_json::json!(["only"]))
            }),
            vec!["1 class label, but the network has 3 outputs"],
        ),
    ];
    let data = iris_csv();
    let onnx = d.join("out.onnx");
    for (path, needles) in &cases {
        let mut needles = needles.clone();
        needles.push(s(path));
        for args in [
            vec!["inspect", s(path)],
            vec!["predict", "--model", s(path), "--data", s(&data)],
            vec!["eval", "--model", s(path), "--data", s(&data), "--json"],
            vec!["export", "--model", s(path), "--out", s(&onnx)],
        ] {
            let o = nabla(&args);
            fails_with(&o, 1, &needles);
            assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
        }
        assert!(!onnx.exists());
    }
}

/// Run nabla with stdout a pipe that is closed after its first byte; the exit status and what
/// it printed on stderr.
fn with_stdout_closed_early(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // the read end is dropped here: later writes meet a closed pipe
    let o = child.wait_with_output().unwrap();
    (o.status, stderr(&o))
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let d = tmpdir("err-pipe");
    let model = iris_model(&d);
    let data = iris_csv();
    let big = d.join("big.csv");
    // enough rows that predict's output overflows the pipe's buffer
    let text = std::fs::read_to_string(&data).unwrap();
    let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(
        &big,
        text.lines().next().unwrap().to_string() + "\n" + &body.repeat(40),
    )
    .unwrap();
    for args in [
        vec!["inspect", s(&model)],
        vec!["inspect", s(&model), "--json"],
        vec!["eval", "--model", s(&model), "--data", s(&data), "--json"],
        vec![
            "predict",
            "--model",
            s(&model),
            "--data",
            s(&big),
            "--proba",
        ],
        vec!["grad", "x^2*y + x*y*z", "--json"],
    ] {
        let (status, err) = with_stdout_closed_early(&args);
        assert!(err.is_empty(), "{args:?}: {err}");
        let quiet = status.success() || status.signal() == Some(libc::SIGPIPE);
        assert!(quiet, "{args:?}: {status:?}");
    }
}

/// `--version` names the kernel path; `NABLA_KERNEL` forces a path this CPU runs, and a name
/// that is unknown (or a path this CPU lacks) is refused in one line before any work.
#[test]
fn kernel_path_is_shown_forced_and_checked() {
    let run = |kernel: Option<&str>, args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nabla"));
        cmd.args(args).env_remove("NABLA_KERNEL");
        if let Some(k) = kernel {
            cmd.env("NABLA_KERNEL", k);
        }
        cmd.output().expect("run nabla")
    };
    let best = nabla::tensor::gemm::KernelPath::best();
    let out = run(None, &["--version"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains(&format!("{} kernels", best.name())),
        "{}",
        stdout(&out)
    );
    for path in nabla::tensor::gemm::KernelPath::ALL {
        let out = run(Some(path.name()), &["--version"]);
        if path.supported() {
            assert!(stdout(&out).contains(&format!("{} kernels", path.name())));
            let grad = run(Some(path.name()), &["grad", "x^2", "--at", "x=3"]);
            assert!(grad.status.success(), "{}", stderr(&grad));
        } else {
            eprintln!("skipped: this CPU cannot run the {} kernels", path.name());
            let grad = run(Some(path.name()), &["grad", "x^2"]);
            assert_eq!(grad.status.code(), Some(2));
            assert!(stderr(&grad).contains("lacks"), "{}", stderr(&grad));
        }
    }
    let bad = run(Some("avx9"), &["grad", "x^2"]);
    assert_eq!(bad.status.code(), Some(2));
    let msg = stderr(&bad);
    assert!(
        msg.contains("NABLA_KERNEL=avx9 is not a kernel path"),
        "{msg}"
    );
    assert_eq!(msg.trim().lines().count(), 1, "{msg}");
    assert!(stdout(&bad).is_empty());
}

//! Tests of the data layer. Expected numbers come from the data files themselves (counted with
//! shell tools, see the comments) or from hand-worked arithmetic, never from this code's output.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::split::read_split_file;
use super::*;
use crate::rng::Rng;
use crate::Error;

// ---------------------------------------------------------------- helpers

fn csv(text: &str) -> crate::Result<Dataset> {
    load_csv_bytes(text.as_bytes(), "t.csv", &LoadOptions::default())
}

fn csv_with(text: &str, opts: &LoadOptions) -> crate::Result<Dataset> {
    load_csv_bytes(text.as_bytes(), "t.csv", opts)
}

/// The (line, column, message) of an [`Error::Data`]; panics on any other outcome.
fn data_err(r: crate::Result<Dataset>) -> (Option<usize>, Option<String>, String) {
    match r {
        Err(Error::Data {
            source_name,
            line,
            column,
            msg,
        }) => {
            assert_eq!(source_name, "t.csv");
            (line, column, msg)
        }
        Err(e) => panic!("expected Error::Data, got {e:?}"),
        Ok(ds) => panic!("expected an error, got {} rows", ds.len()),
    }
}

fn f32_features(ds: &Dataset) -> &[f32] {
    match &ds.features {
        Features::F32(v) => v,
        Features::U8 { .. } => panic!("expected f32 features"),
    }
}

fn class_names(ds: &Dataset) -> Vec<String> {
    match &ds.target {
        Target::Classes { class_names, .. } => class_names.clone(),
        t => panic!("expected classes, got {t:?}"),
    }
}

/// A fresh empty directory under the system temp dir, unique to this process and test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nabla-data-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_gz(path: &Path, bytes: &[u8]) {
    let f = std::fs::File::create(path).unwrap();
    let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

/// `shared/data` beside the repository, if present (CI has it; a bare checkout may not). The
/// environment variable `NABLA_SHARED_DATA` overrides the location (for checkouts elsewhere).
fn shared_data() -> Option<PathBuf> {
    let p = match std::env::var_os("NABLA_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if p.is_dir() {
        Some(p)
    } else {
        println!("note: {} not found; skipping", p.display());
        None
    }
}

// ---------------------------------------------------------------- CSV parsing

#[test]
fn csv_reads_features_names_and_numeric_classes_in_numeric_order() {
    let ds = csv("a,b,label\n1,2.5,10\n-3,4e1,2\n0.5,6,1\n7,8,2\n0,0,1\n0,0,10\n").unwrap();
    assert_eq!(ds.len(), 6);
    assert_eq!(ds.n_features, 2);
    assert_eq!(ds.feature_names, ["a", "b"]);
    assert_eq!(
        f32_features(&ds),
        [1.0, 2.5, -3.0, 40.0, 0.5, 6.0, 7.0, 8.0, 0.0, 0.0, 0.0, 0.0]
    );
    // numeric order 1 < 2 < 10, not lexicographic "1" < "10" < "2"
    assert_eq!(class_names(&ds), ["1", "2", "10"]);
    assert_eq!(ds.labels().unwrap(), [2, 1, 0, 1, 0, 2]);
    assert_eq!(ds.task(), Some(Task::Classify));
}

#[test]
fn csv_text_classes_sorted_lexicographically() {
    let ds = csv("x,y\n1,dog\n2,cat\n3,ant\n4,cat\n").unwrap();
    assert_eq!(class_names(&ds), ["ant", "cat", "dog"]);
    assert_eq!(ds.labels().unwrap(), [2, 1, 0, 1]);
    assert_eq!(ds.class_counts().unwrap(), [1, 2, 1]);
}

#[test]
fn csv_named_target_in_the_middle() {
    let opts = LoadOptions {
        target: Some("t".into()),
        ..Default::default()
    };
    let ds = csv_with("a,t,b\n1,x,2\n3,y,4\n", &opts).unwrap();
    assert_eq!(ds.feature_names, ["a", "b"]);
    assert_eq!(f32_features(&ds), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(class_names(&ds), ["x", "y"]);
}

#[test]
fn delimiter_detection() {
    assert_eq!(csv_source::detect_delimiter(b"a,b,c\n1;2;3"), b',');
    assert_eq!(csv_source::detect_delimiter(b"a;b;c\n1,2,3"), b';');
    assert_eq!(csv_source::detect_delimiter(b"a\tb\tc\n"), b'\t');
    // commas inside quotes do not count
    assert_eq!(csv_source::detect_delimiter(b"\"a,b,c\";d\n"), b';');
    // a single column defaults to comma
    assert_eq!(csv_source::detect_delimiter(b"a\n1\n"), b',');

    let semi = csv("x;y;c\n1,5;2;a\n3;4;b\n");
    // "1,5" is not a number (comma decimal not accepted): line 2, column x
    let (line, col, msg) = data_err(semi);
    assert_eq!((line, col.as_deref()), (Some(2), Some("x")));
    assert!(msg.contains("'1,5' is not a number"), "{msg}");

    let tab = csv("x\ty\tc\n1\t2\ta\n3\t4\tb\n").unwrap();
    assert_eq!(f32_features(&tab), [1.0, 2.0, 3.0, 4.0]);
    let semi = csv("x;y;c\n1;2;a\n3;4;b\n").unwrap();
    assert_eq!(f32_features(&semi), [1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn quoted_fields_spaces_crlf_and_bom() {
    let text = "\u{feff}\"len, cm\",\"w\",kind\r\n\" 1.5\",2,\"a \"\"b\"\"\"\r\n3, 4 ,c\r\n";
    let ds = csv(text).unwrap();
    assert_eq!(ds.feature_names, ["len, cm", "w"]);
    assert_eq!(f32_features(&ds), [1.5, 2.0, 3.0, 4.0]);
    assert_eq!(class_names(&ds), ["a \"b\"", "c"]);
}

#[test]
fn blank_lines_are_skipped_and_line_numbers_stay_true() {
    let ds = csv("a,y\n1,0\n\n2,1\n  \n").unwrap();
    assert_eq!(ds.len(), 2);
    let (line, col, _) = data_err(csv("a,y\n1,0\n\n\nzz,1\n"));
    assert_eq!((line, col.as_deref()), (Some(5), Some("a")));
}

// ---------------------------------------------------------------- CSV errors

#[test]
fn error_empty_file() {
    let (line, col, msg) = data_err(csv(""));
    assert_eq!((line, col), (None, None));
    assert!(msg.contains("empty"), "{msg}");
    let (_, _, msg) = data_err(csv("  \n\n"));
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn error_header_only() {
    let (line, _, msg) = data_err(csv("a,b,y\n"));
    assert_eq!(line, None);
    assert!(msg.contains("no data rows"), "{msg}");
}

#[test]
fn error_ragged_row() {
    let (line, col, msg) = data_err(csv("a,b,y\n1,2,0\n1,2,3,4\n"));
    assert_eq!((line, col), (Some(3), None));
    assert!(
        msg.contains("4 fields") && msg.contains("header has 3"),
        "{msg}"
    );
    let (line, _, msg) = data_err(csv("a,b,y\n1,2,0\n5,1\n1,2,0\n"));
    assert_eq!(line, Some(3));
    assert!(msg.contains("2 fields"), "{msg}");
}

#[test]
fn error_non_numeric_feature_names_line_column_and_text() {
    let err = csv("a,b,y\n1,2,0\n3,oops,1\n").unwrap_err();
    let text = err.to_string();
    assert_eq!(text, "t.csv, line 3, column b: 'oops' is not a number");
}

#[test]
fn error_nan_and_infinite_features() {
    for (bad, line) in [("NaN", 2), ("inf", 3), ("-infinity", 3), ("1e39", 3)] {
        let text = if line == 2 {
            format!("a,b,y\n1,{bad},0\n1,2,1\n")
        } else {
            format!("a,b,y\n1,2,0\n{bad},2,1\n")
        };
        let (l, col, msg) = data_err(csv(&text));
        let want_col = if line == 2 { "b" } else { "a" };
        assert_eq!((l, col.as_deref()), (Some(line), Some(want_col)), "{bad}");
        assert!(msg.contains("NaN or infinite"), "{msg}");
    }
}

#[test]
fn error_empty_cells() {
    let (line, col, msg) = data_err(csv("a,b,y\n1,2,0\n1,,1\n"));
    assert_eq!((line, col.as_deref()), (Some(3), Some("b")));
    assert!(msg.contains("empty value"), "{msg}");
    let (line, col, msg) = data_err(csv("a,b,y\n1,2,0\n1,2,\n"));
    assert_eq!((line, col.as_deref()), (Some(3), Some("y")));
    assert!(msg.contains("empty target"), "{msg}");
}

#[test]
fn error_target_column_not_found_lists_columns() {
    let opts = LoadOptions {
        target: Some("species".into()),
        ..Default::default()
    };
    let (line, col, msg) = data_err(csv_with("a,b,y\n1,2,0\n", &opts));
    assert_eq!((line, col.as_deref()), (None, Some("species")));
    assert!(
        msg.contains("not found") && msg.contains("a, b, y"),
        "{msg}"
    );
}

#[test]
fn error_nan_target_unless_classes_are_asked_for() {
    let (line, col, msg) = data_err(csv("a,y\n1,0.5\n2,NaN\n3,1.5\n"));
    assert_eq!((line, col.as_deref()), (Some(3), Some("y")));
    assert!(msg.contains("NaN or infinite"), "{msg}");
    let classify = LoadOptions {
        task: TaskChoice::Classify,
        ..Default::default()
    };
    let ds = csv_with("a,y\n1,NaN\n2,inf\n", &classify).unwrap();
    assert_eq!(class_names(&ds), ["NaN", "inf"]);
}

/// Parse speed on a synthetic CSV (printed, not asserted: timings depend on the machine).
#[test]
fn csv_parse_speed_report() {
    let mut rng = Rng::new(11);
    let (rows, cols) = (20_000, 50);
    let mut text = String::new();
    for c in 0..cols {
        text.push_str(&format!("f{c},"));
    }
    text.push_str("y\n");
    for r in 0..rows {
        for _ in 0..cols {
            text.push_str(&format!("{:.6},", rng.normal()));
        }
        text.push_str(&format!("{}\n", r % 3));
    }
    let start = std::time::Instant::now();
    let ds = csv(&text).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "CSV parse: {rows} x {cols} floats, {:.1} MB in {secs:.3} s ({:.0} MB/s)",
        text.len() as f64 / 1e6,
        text.len() as f64 / 1e6 / secs
    );
    assert_eq!((ds.len(), ds.n_features, ds.n_classes()), (rows, cols, 3));
}

#[test]
fn error_single_class() {
    let (_, col, msg) = data_err(csv("a,y\n1,cat\n2,cat\n"));
    assert_eq!(col.as_deref(), Some("y"));
    assert!(
        msg.contains("two classes") && msg.contains("'cat'"),
        "{msg}"
    );
}

#[test]
fn error_duplicate_header_and_target_only() {
    let (line, col, msg) = data_err(csv("a,b,a,y\n1,2,3,0\n"));
    assert_eq!((line, col.as_deref()), (Some(1), Some("a")));
    assert!(msg.contains("columns 1 and 3"), "{msg}");
    let (_, _, msg) = data_err(csv("y\n0\n1\n"));
    assert!(msg.contains("no feature columns"), "{msg}");
}

#[test]
fn error_missing_file_is_io_with_path() {
    let p = Path::new("/nonexistent/nabla/none.csv");
    match load_csv(p, &LoadOptions::default()) {
        Err(Error::Io { path, .. }) => assert_eq!(path, p),
        other => panic!("expected Io error, got {other:?}"),
    }
}

// ---------------------------------------------------------------- target interpretation

#[test]
fn auto_task_rule() {
    // integer with few levels: classes
    let ds = csv("a,y\n1,0\n2,1\n3,0\n4,1\n").unwrap();
    assert_eq!(ds.task(), Some(Task::Classify));
    // any fractional value: regression
    let ds = csv("a,y\n1,0.5\n2,1\n3,0\n4,1\n").unwrap();
    assert_eq!(ds.task(), Some(Task::Regress));
    match &ds.target {
        Target::Values { values, names } => {
            assert_eq!(values, &[0.5, 1.0, 0.0, 1.0]);
            assert_eq!(names, &["y"]);
        }
        t => panic!("{t:?}"),
    }
    // integers but more than rows/2 distinct: regression
    let ds = csv("a,y\n1,3\n2,5\n3,7\n4,9\n5,3\n6,5\n").unwrap();
    assert_eq!(ds.task(), Some(Task::Regress));
    // integers with 21 distinct values over many rows: regression (more than 20)
    let mut text = String::from("a,y\n");
    for i in 0..210 {
        text.push_str(&format!("{i},{}\n", i % 21));
    }
    assert_eq!(csv(&text).unwrap().task(), Some(Task::Regress));
    // exactly 20 distinct: classes
    let mut text = String::from("a,y\n");
    for i in 0..200 {
        text.push_str(&format!("{i},{}\n", i % 20));
    }
    assert_eq!(csv(&text).unwrap().n_classes(), 20);
}

#[test]
fn forced_tasks() {
    let regress = LoadOptions {
        task: TaskChoice::Regress,
        ..Default::default()
    };
    let ds = csv_with("a,y\n1,0\n2,1\n3,0\n", &regress).unwrap();
    assert_eq!(ds.task(), Some(Task::Regress));
    let (line, col, msg) = data_err(csv_with("a,y\n1,0\n2,1\n3,x\n", &regress));
    assert_eq!((line, col.as_deref()), (Some(4), Some("y")));
    assert!(msg.contains("'x'"), "{msg}");
    let (line, _, _) = data_err(csv_with("a,y\n1,0\n2,1e39\n", &regress));
    assert_eq!(line, Some(3));

    let classify = LoadOptions {
        task: TaskChoice::Classify,
        ..Default::default()
    };
    // "1" and "1.0" are the same numeric class
    let ds = csv_with("a,y\n1,0.5\n2,1\n3,1.0\n4,-2\n", &classify).unwrap();
    assert_eq!(class_names(&ds), ["-2", "0.5", "1"]);
    assert_eq!(ds.labels().unwrap(), [1, 2, 2, 0]);
}

#[test]
fn fixed_class_names_and_optional_target() {
    let fixed = LoadOptions {
        class_names: Some(vec!["no".into(), "yes".into()]),
        ..Default::default()
    };
    let ds = csv_with("a,y\n1,yes\n2,yes\n", &fixed).unwrap();
    assert_eq!(ds.labels().unwrap(), [1, 1]); // a single class is fine here
    let (line, col, msg) = data_err(csv_with("a,y\n1,yes\n2,maybe\n", &fixed));
    assert_eq!((line, col.as_deref()), (Some(3), Some("y")));
    assert!(msg.contains("unknown class 'maybe'"), "{msg}");

    let numeric_fixed = LoadOptions {
        class_names: Some(vec!["0".into(), "1".into(), "2".into()]),
        ..Default::default()
    };
    let ds = csv_with("a,y\n1,2.0\n2,0\n", &numeric_fixed).unwrap();
    assert_eq!(ds.labels().unwrap(), [2, 0]);

    let optional = LoadOptions {
        target: Some("y".into()),
        target_required: false,
        ..Default::default()
    };
    let ds = csv_with("a,b\n1,2\n3,4\n", &optional).unwrap();
    assert_eq!(ds.target, Target::None);
    assert_eq!(ds.n_features, 2);
    let ds = csv_with("a,y\n1,0\n3,1\n", &optional).unwrap();
    assert_eq!(ds.n_features, 1);
    assert_eq!(ds.n_classes(), 2);
    let unnamed = LoadOptions {
        target_required: false,
        ..Default::default()
    };
    let ds = csv_with("a,b\n1,2\n", &unnamed).unwrap();
    assert_eq!((ds.n_features, ds.task()), (2, None));
    // Ignored, the target column is dropped unread: unknown and empty cells are no error.
    let ignored = LoadOptions {
        target: Some("y".into()),
        ignore_target: true,
        ..fixed
    };
    let ds = csv_with("a,y\n1,maybe\n2,\n", &ignored).unwrap();
    assert_eq!((ds.n_features, ds.len()), (1, 2));
    assert_eq!(ds.target, Target::None);
}

// ---------------------------------------------------------------- gzip

#[test]
fn gzip_csv_round_trip_and_fake_gz() {
    let dir = temp_dir("gzip");
    let text = "a;b;y\n1;2;x\n3;4;z\n5;6;x\n";
    let plain = dir.join("small.csv");
    std::fs::write(&plain, text).unwrap();
    let gz = dir.join("small.csv.gz");
    write_gz(&gz, text.as_bytes());
    let a = load_csv(&plain, &LoadOptions::default()).unwrap();
    let b = load_csv(&gz, &LoadOptions::default()).unwrap();
    assert_eq!(a.features, b.features);
    assert_eq!(a.target, b.target);
    assert_eq!(b.source_name, gz.display().to_string());
    assert_eq!(f32_features(&b), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

    let fake = dir.join("fake.csv.gz");
    std::fs::write(&fake, text).unwrap();
    let err = load_csv(&fake, &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not gzip"), "{err}");

    let truncated = dir.join("cut.csv.gz");
    let full = std::fs::read(&gz).unwrap();
    std::fs::write(&truncated, &full[..full.len() - 6]).unwrap();
    let err = load_csv(&truncated, &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("cut.csv.gz"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- IDX

/// Hand-built IDX images file: big-endian header then pixels.
fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0x803u32, count, rows, cols] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(pixels);
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0x801u32, labels.len() as u32] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(labels);
    v
}

#[test]
fn idx_tiny_files_plain_and_gz_with_both_namings() {
    let dir = temp_dir("idx");
    // three 2x2 images
    let pixels: Vec<u8> = vec![0, 255, 51, 102, 1, 2, 3, 4, 255, 255, 0, 0];
    std::fs::write(
        dir.join("train-images.idx3-ubyte"),
        idx_images(3, 2, 2, &pixels),
    )
    .unwrap();
    write_gz(
        &dir.join("train-labels-idx1-ubyte.gz"),
        &idx_labels(&[7, 0, 9]),
    );
    let loaded = load_source(&format!("mnist:{}", dir.display()), &LoadOptions::default()).unwrap();
    assert!(loaded.test.is_none());
    let ds = loaded.train;
    assert_eq!((ds.len(), ds.n_features), (3, 4));
    assert_eq!(ds.labels().unwrap(), [7, 0, 9]);
    assert_eq!(class_names(&ds).len(), 10);
    match &ds.features {
        Features::U8 { data, scale } => {
            assert_eq!(data, &pixels);
            assert_eq!(*scale, 1.0 / 255.0);
        }
        _ => panic!("expected u8 features"),
    }
    let mut x = [0f32; 8];
    ds.fill_batch(&[2, 0], &mut x).unwrap();
    // bytes 255 and 0 map to exactly 1 and 0; 51/255 = 0.2 and 102/255 = 0.4 up to f32 rounding
    assert_eq!(x[..6], [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    assert!((x[6] - 0.2).abs() <= 0.2 * f32::EPSILON, "{}", x[6]);
    assert!((x[7] - 0.4).abs() <= 0.4 * f32::EPSILON, "{}", x[7]);

    // t10k pair, gz images
    write_gz(
        &dir.join("t10k-images-idx3-ubyte.gz"),
        &idx_images(1, 2, 2, &[9, 9, 9, 9]),
    );
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx_labels(&[3])).unwrap();
    let loaded = load_mnist_dir(&dir).unwrap();
    let test = loaded.test.unwrap();
    assert_eq!(test.labels().unwrap(), [3]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idx_errors_name_the_file() {
    let dir = temp_dir("idx-err");
    let img = dir.join("img");
    let lab = dir.join("lab");
    let check = |img_bytes: Vec<u8>, lab_bytes: Vec<u8>, bad: &Path, want: &str| {
        std::fs::write(&img, img_bytes).unwrap();
        std::fs::write(&lab, lab_bytes).unwrap();
        match load_idx_pair(&img, &lab) {
            Err(Error::Data {
                source_name, msg, ..
            }) => {
                assert_eq!(source_name, bad.display().to_string());
                assert!(msg.contains(want), "{msg}");
            }
            other => panic!("expected a data error, got {other:?}"),
        }
    };
    let good_img = idx_images(2, 1, 2, &[1, 2, 3, 4]);
    let good_lab = idx_labels(&[0, 1]);
    // images magic in the labels file
    check(
        good_img.clone(),
        good_img.clone(),
        &lab,
        "magic number 0x00000803",
    );
    check(
        idx_labels(&[0; 8]), // 16 bytes: long enough for an images header
        good_lab.clone(),
        &img,
        "magic number 0x00000801",
    );
    // pixel bytes short by one
    check(
        idx_images(2, 1, 2, &[1, 2, 3]),
        good_lab.clone(),
        &img,
        "header says 2 images",
    );
    // label count disagreeing with the image count
    check(good_img.clone(), idx_labels(&[0, 1, 2]), &lab, "3 labels");
    // label out of range
    check(
        good_img.clone(),
        idx_labels(&[0, 10]),
        &lab,
        "label 10 of item 1",
    );
    // truncated header
    check(vec![0, 0, 8], good_lab.clone(), &img, "too short");

    // a directory without training files
    let empty = temp_dir("idx-empty");
    let err = load_mnist_dir(&empty).unwrap_err().to_string();
    assert!(err.contains("no training images"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn real_mnist_class_counts() {
    let Some(shared) = shared_data() else { return };
    let dir = shared.join("mnist");
    let start = std::time::Instant::now();
    let loaded = load_source(&format!("mnist:{}", dir.display()), &LoadOptions::default()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!("MNIST load (4 .gz files, 70000 images): {secs:.3} s");
    let train = loaded.train;
    let test = loaded.test.unwrap();
    assert_eq!((train.len(), train.n_features), (60000, 784));
    assert_eq!(test.len(), 10000);
    // from shared/data/README.md
    assert_eq!(
        train.class_counts().unwrap(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        test.class_counts().unwrap(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // pixels span the full byte range
    if let Features::U8 { data, .. } = &train.features {
        assert_eq!(data.iter().max(), Some(&255));
        assert_eq!(data.iter().min(), Some(&0));
    }
}

#[test]
fn real_fashion_mnist_is_balanced() {
    let Some(shared) = shared_data() else { return };
    let loaded = load_mnist_dir(&shared.join("fashion-mnist")).unwrap();
    assert_eq!(loaded.train.class_counts().unwrap(), [6000; 10]);
    assert_eq!(loaded.test.unwrap().class_counts().unwrap(), [1000; 10]);
}

// ---------------------------------------------------------------- built-ins

#[test]
fn builtin_digits_shape_counts_and_first_row() {
    let ds = load_source("builtin:digits", &LoadOptions::default())
        .unwrap()
        .train;
    assert_eq!((ds.len(), ds.n_features), (1797, 64));
    assert_eq!(ds.feature_names[0], "p0");
    assert_eq!(ds.feature_names[63], "p63");
    // `cut -d, -f65 digits.csv | sort | uniq -c`
    assert_eq!(
        ds.class_counts().unwrap(),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert_eq!(
        class_names(&ds),
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
    // first data line of digits.csv
    let first: [f32; 16] = [
        0., 0., 5., 13., 9., 1., 0., 0., 0., 0., 13., 15., 10., 15., 5., 0.,
    ];
    assert_eq!(&f32_features(&ds)[..16], first);
    assert_eq!(ds.labels().unwrap()[..3], [0, 1, 2]);
}

#[test]
fn builtin_iris_and_xor() {
    let iris = load_source("builtin:iris", &LoadOptions::default())
        .unwrap()
        .train;
    assert_eq!((iris.len(), iris.n_features), (150, 4));
    assert_eq!(class_names(&iris), ["setosa", "versicolor", "virginica"]);
    assert_eq!(iris.class_counts().unwrap(), [50, 50, 50]);
    assert_eq!(&f32_features(&iris)[..4], [5.1, 3.5, 1.4, 0.2]);
    // a model's species names map back onto the file's 0/1/2
    let fixed = LoadOptions {
        class_names: Some(vec![
            "setosa".into(),
            "versicolor".into(),
            "virginica".into(),
        ]),
        ..Default::default()
    };
    let again = load_source("builtin:iris", &fixed).unwrap().train;
    assert_eq!(again.target, iris.target);
    // another column as a regression target
    let petal = LoadOptions {
        target: Some("petal_width_cm".into()),
        ..Default::default()
    };
    let reg = load_source("builtin:iris", &petal).unwrap().train;
    assert_eq!(reg.task(), Some(Task::Regress));
    assert_eq!(reg.n_features, 4); // three measurements and the 0/1/2 column

    let xor = load_source("builtin:xor", &LoadOptions::default())
        .unwrap()
        .train;
    assert_eq!(f32_features(&xor), [0., 0., 0., 1., 1., 0., 1., 1.]);
    assert_eq!(xor.labels().unwrap(), [0, 1, 1, 0]);

    match load_source("builtin:nope", &LoadOptions::default()) {
        Err(Error::Param { msg, .. }) => assert!(msg.contains("builtin:digits"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- splits

#[test]
fn stratified_split_proportions_and_determinism() {
    let ds = load_source("builtin:digits", &LoadOptions::default())
        .unwrap()
        .train;
    let counts = ds.class_counts().unwrap();
    let (train, held) = stratified_split(&ds, 0.2, 42).unwrap();
    assert_eq!(train.len() + held.len(), ds.len());
    let mut seen = vec![false; ds.len()];
    for &i in train.iter().chain(&held) {
        assert!(!seen[i], "row {i} twice");
        seen[i] = true;
    }
    let labels = ds.labels().unwrap();
    let mut held_counts = vec![0usize; 10];
    for &i in &held {
        held_counts[labels[i] as usize] += 1;
    }
    for (c, (&total, &h)) in counts.iter().zip(&held_counts).enumerate() {
        // round(total * 0.2), worked by hand: 178 -> 35.6 -> 36, 174 -> 34.8 -> 35, ...
        let want = (total as f64 * 0.2).round() as usize;
        assert_eq!(h, want, "class {c}");
    }
    assert_eq!(held_counts, [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]);

    assert_eq!(
        stratified_split(&ds, 0.2, 42).unwrap(),
        (train.clone(), held.clone())
    );
    assert_ne!(stratified_split(&ds, 0.2, 43).unwrap().1, held);

    let (all, none) = stratified_split(&ds, 0.0, 1).unwrap();
    assert_eq!((all.len(), none.len()), (1797, 0));
    assert!(stratified_split(&ds, 1.0, 1).is_err());
    assert!(stratified_split(&ds, -0.1, 1).is_err());
}

#[test]
fn split_keeps_tiny_classes_in_training_and_regression_splits_plainly() {
    let ds = csv("a,y\n1,a\n2,a\n3,b\n4,c\n5,c\n6,c\n").unwrap();
    let (train, held) = stratified_split(&ds, 0.6, 3).unwrap();
    // a: 2 rows -> round(1.2)=1; b: 1 row -> 0; c: 3 rows -> round(1.8)=2
    assert_eq!((train.len(), held.len()), (3, 3));
    let labels = ds.labels().unwrap();
    let mut train_classes: Vec<u32> = train.iter().map(|&i| labels[i]).collect();
    train_classes.sort();
    assert_eq!(train_classes, [0, 1, 2]);

    let mut text = String::from("a,y\n");
    for i in 0..50 {
        text.push_str(&format!("{i},{}.5\n", i));
    }
    let reg = csv(&text).unwrap();
    let (tr, he) = stratified_split(&reg, 0.3, 9).unwrap();
    assert_eq!((tr.len(), he.len()), (35, 15));
    let (dtr, dhe) = split_dataset(&reg, 0.3, 9).unwrap();
    let feats = f32_features(&dhe);
    assert_eq!(feats.len(), 15);
    assert_eq!(feats[0], he[0] as f32);
    assert_eq!(dtr.len(), 35);
}

#[test]
fn split_files_read_check_and_apply() {
    let dir = temp_dir("splits");
    let ds = csv("a,y\n0,0\n1,1\n2,0\n3,1\n4,0\n").unwrap();
    let tr = dir.join("x.train.txt");
    let te = dir.join("x.test.txt");
    std::fs::write(&tr, "4\n0\n 2 \n\n").unwrap();
    std::fs::write(&te, "1\n3\n").unwrap();
    assert_eq!(read_split_file(&tr).unwrap(), [4, 0, 2]);
    let (train, test) = apply_split_files(&ds, &tr, &te).unwrap();
    assert_eq!(f32_features(&train), [4.0, 0.0, 2.0]);
    assert_eq!(f32_features(&test), [1.0, 3.0]);

    let expect = |train_text: &str, test_text: &str, file: &Path, line: usize, want: &str| {
        std::fs::write(&tr, train_text).unwrap();
        std::fs::write(&te, test_text).unwrap();
        match apply_split_files(&ds, &tr, &te) {
            Err(Error::Data {
                source_name,
                line: l,
                msg,
                ..
            }) => {
                assert_eq!(source_name, file.display().to_string());
                assert_eq!(l, Some(line));
                assert!(msg.contains(want), "{msg}");
            }
            other => panic!("expected a data error, got {other:?}"),
        }
    };
    expect("0\n1\n5\n", "2\n", &tr, 3, "out of range");
    expect("0\n1\n", "2\nx2\n", &te, 2, "not a row index");
    expect("0\n1\n0\n", "2\n", &tr, 3, "listed twice");
    expect("0\n1\n", "3\n1\n", &te, 2, "also in");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shared_split_files_for_iris() {
    let Some(shared) = shared_data() else { return };
    let splits = shared.join("../bench/e2e/splits");
    if !splits.is_dir() {
        println!("note: {} not found; skipping", splits.display());
        return;
    }
    let iris = load_source("builtin:iris", &LoadOptions::default())
        .unwrap()
        .train;
    let (train, test) = apply_split_files(
        &iris,
        &splits.join("iris.train.txt"),
        &splits.join("iris.test.txt"),
    )
    .unwrap();
    // sizes from E2E.md: iris 120/30, stratified so 40/10 per species
    assert_eq!((train.len(), test.len()), (120, 30));
    assert_eq!(test.class_counts().unwrap(), [10, 10, 10]);
}

// ---------------------------------------------------------------- standardisation

#[test]
fn standardizer_fits_on_training_rows_only() {
    // column a: train rows 1,2,3 -> mean 2, population std sqrt(2/3); column b constant -> std 1
    let ds = csv("a,b,y\n1,5,0\n2,5,1\n3,5,0\n100,7,1\n").unwrap();
    let st = Standardizer::fit_rows(&ds, &[0, 1, 2]).unwrap();
    assert_eq!(st.mean, [2.0, 5.0]);
    assert_eq!(st.std, [(2.0f64 / 3.0).sqrt() as f32, 1.0]);

    let (mut train, mut test) = (ds.subset(&[0, 1, 2]), ds.subset(&[3]));
    assert_eq!(Standardizer::fit(&train).unwrap(), st);
    st.apply(&mut train).unwrap();
    st.apply(&mut test).unwrap();
    let s = (2.0f32 / 3.0).sqrt();
    assert_eq!(
        f32_features(&train),
        [-1.0 / s, 0.0, 0.0, 0.0, 1.0 / s, 0.0]
    );
    assert_eq!(f32_features(&test), [98.0 / s, 2.0]);

    // stored in model files as JSON
    let json = serde_json::to_string(&st).unwrap();
    let back: Standardizer = serde_json::from_str(&json).unwrap();
    assert_eq!(back, st);

    let other = csv("a,y\n1,0\n2,1\n").unwrap();
    let mut other = other;
    assert!(st.apply(&mut other).is_err());
    assert!(st.apply_rows(&mut [1.0, 2.0, 3.0]).is_err());
}

#[test]
fn standardizer_on_u8_features_uses_scaled_values() {
    let ds = Dataset {
        features: Features::U8 {
            data: vec![0, 255, 255, 255],
            scale: 1.0 / 255.0,
        },
        n_features: 2,
        feature_names: vec!["p0".into(), "p1".into()],
        target: Target::None,
        source_name: "u8".into(),
    };
    let st = Standardizer::fit(&ds).unwrap();
    assert_eq!(st.mean, [0.5, 1.0]);
    assert_eq!(st.std, [0.5, 1.0]);
    let mut ds = ds;
    st.apply(&mut ds).unwrap();
    assert_eq!(f32_features(&ds), [-1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn target_scaler_round_trip() {
    // values 1, 3: mean 2, population std 1
    let sc = Standardizer::fit_values(&[1.0, 3.0]).unwrap();
    assert_eq!((sc.mean.clone(), sc.std.clone()), (vec![2.0], vec![1.0]));
    let mut v = [1.0, 3.0, 6.0];
    sc.apply_values(&mut v);
    assert_eq!(v, [-1.0, 1.0, 4.0]);
    sc.inverse_values(&mut v);
    assert_eq!(v, [1.0, 3.0, 6.0]);
    assert_eq!(sc.inverse_value(0.5), 2.5);
    assert_eq!(Standardizer::fit_values(&[4.0, 4.0]).unwrap().std, [1.0]);
    assert!(Standardizer::fit_values(&[]).is_err());

    let mut ds = csv("a,y\n1,1.5\n2,3.5\n").unwrap();
    let sc = Standardizer::fit_target(&ds).unwrap();
    assert_eq!((sc.mean.clone(), sc.std.clone()), (vec![2.5], vec![1.0]));
    sc.apply_target(&mut ds).unwrap();
    let Target::Values { values, .. } = &ds.target else {
        panic!("a regression target")
    };
    assert_eq!(values, &[-1.0, 1.0]);
}

// ---------------------------------------------------------------- rows

#[test]
fn fill_batch_targets_subset_and_describe() {
    let ds = csv("a,b,y\n1,2,x\n3,4,y\n5,6,x\n").unwrap();
    let mut x = [0f32; 4];
    ds.fill_batch(&[2, 1], &mut x).unwrap();
    assert_eq!(x, [5.0, 6.0, 3.0, 4.0]);
    assert!(ds.fill_batch(&[0], &mut x).is_err());

    let sub = ds.subset(&[1, 1]);
    assert_eq!(f32_features(&sub), [3.0, 4.0, 3.0, 4.0]);
    assert_eq!(sub.labels().unwrap(), [1, 1]);
    assert_eq!(sub.n_classes(), 2);

    let text = ds.describe();
    assert!(text.contains("3 rows, 2 features, 2 classes"), "{text}");
    assert!(text.contains("x=2 y=1"), "{text}");
}

#[test]
fn image_sources_give_the_shape_of_one_image_and_tables_none() {
    let dir = temp_dir("idx-shape");
    // two 2×3 images
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx_images(2, 2, 3, &[0; 12]),
    )
    .unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx_labels(&[1, 2])).unwrap();
    let mnist = load_source(&format!("mnist:{}", dir.display()), &LoadOptions::default());
    assert_eq!(mnist.unwrap().image_shape, Some(vec![1, 2, 3]));
    let digits = load_source("builtin:digits", &LoadOptions::default()).unwrap();
    assert_eq!(digits.image_shape, Some(vec![1, 8, 8]));
    // Another target column leaves 64 columns that are no longer the image.
    let other_target = LoadOptions {
        target: Some("p5".into()),
        task: TaskChoice::Regress,
        ..LoadOptions::default()
    };
    let digits = load_source("builtin:digits", &other_target).unwrap();
    assert_eq!(digits.image_shape, None);
    let iris = load_source("builtin:iris", &LoadOptions::default()).unwrap();
    assert_eq!(iris.image_shape, None);
}

#[test]
fn several_target_columns_make_a_multi_output_regression() {
    let opts = LoadOptions {
        target: Some("y0, y2".into()),
        ..LoadOptions::default()
    };
    let ds = csv_with("a,y0,b,y2\n1,0.5,2,7\n3,1.5,4,9\n5,2.5,6,8\n", &opts).unwrap();
    let columns = (ds.feature_names.clone(), ds.target.outputs());
    assert_eq!(columns, (vec!["a".to_string(), "b".to_string()], 2));
    assert_eq!(
        ds.features,
        Features::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    );
    assert_eq!(ds.len(), 3);
    match &ds.target {
        Target::Values { values, names } => {
            assert_eq!(values, &[0.5, 7.0, 1.5, 9.0, 2.5, 8.0]);
            assert_eq!(names, &["y0", "y2"]);
        }
        t => panic!("{t:?}"),
    }
    assert_eq!(ds.target.name().as_deref(), Some("y0,y2"));
    // Subsets keep whole rows; the target standardiser has one column per output.
    let sub = ds.subset(&[2, 0]);
    let Target::Values { values, .. } = &sub.target else {
        panic!("regression")
    };
    assert_eq!(values, &[2.5, 8.0, 0.5, 7.0]);
    let mut scaled = ds.clone();
    let sc = Standardizer::fit_target(&ds).unwrap();
    assert_eq!(sc.mean, [1.5, 8.0]);
    sc.apply_target(&mut scaled).unwrap();
    let Target::Values { values, .. } = &scaled.target else {
        panic!("regression")
    };
    let mut back = values.clone();
    sc.inverse_values(&mut back);
    assert_eq!(back, [0.5, 7.0, 1.5, 9.0, 2.5, 8.0]);
    // A non-number in a target column names it; a missing column is named; classes refused.
    let err = csv_with("a,y0,y2\n1,x,2\n", &opts).unwrap_err().to_string();
    assert!(
        err.contains("line 2, column y0") && err.contains("'x' is not a number"),
        "{err}"
    );
    let err = csv_with("a,y0,b\n1,2,3\n", &opts).unwrap_err().to_string();
    assert!(err.contains("column y2: target column not found"), "{err}");
    let classify = LoadOptions {
        task: TaskChoice::Classify,
        ..opts.clone()
    };
    assert!(csv_with("a,y0,y2\n1,2,3\n", &classify).is_err());
}

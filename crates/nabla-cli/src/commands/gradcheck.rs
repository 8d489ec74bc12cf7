//! `nabla gradcheck [architecture flags | --model MODEL] [--data SOURCE]`.

use std::path::PathBuf;

use serde_json::json;

use nabla::data::Target;
use nabla::loss::Targets;
use nabla::nn::{check::check_gradients, Sequential};

use super::{json_number, print_json, CliError};
use crate::pipeline::{self, lib_err, ArchFlags, DataFlags, TaskFlag};

/// Check backpropagation against finite differences.
///
/// For every parameter tensor, the gradient of the layers' backward pass in f64 against
/// central finite differences, and the f32 backward pass (what training runs) against the f64
/// one, on a small batch (JSON keeps the field names `autograd_vs_numeric` and
/// `fused_vs_autograd` of earlier releases). Exits 1 when an error is above its tolerance.
/// Dropout is off during the check.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub arch: ArchFlags,
    /// Check this model's weights instead of a fresh network built from the flags.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Data for the batch (default: the model's training source, or builtin:digits).
    #[arg(long, value_name = "SOURCE")]
    pub data: Option<String>,
    /// Target column of a CSV.
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// Rows in the batch.
    #[arg(long, default_value_t = 8)]
    pub rows: usize,
    /// Finite-difference step (in f64).
    #[arg(long, default_value_t = 1e-6)]
    pub eps: f64,
    /// Largest accepted error of the backward pass in f64 against finite differences:
    /// |a − n| / max(1, |a|, |n|).
    #[arg(long, default_value_t = 1e-6)]
    pub tol: f64,
    /// Largest accepted error of the f32 backward pass (what training runs) against the f64 one.
    #[arg(long, default_value_t = 1e-4)]
    pub fused_tol: f64,
    /// Elements per tensor compared with finite differences (evenly spaced; all when fewer).
    #[arg(long, default_value_t = 200)]
    pub max_per_tensor: usize,
    /// Seed of the fresh network's weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `nabla gradcheck`.
pub fn run(args: Args) -> Result<(), CliError> {
    if args.rows == 0 {
        return Err(CliError::usage("--rows 0: must be at least 1"));
    }
    if !(args.eps.is_finite() && args.eps > 0.0) {
        return Err(CliError::usage(format!(
            "--eps {}: must be positive",
            args.eps
        )));
    }
    let (mut net, data, loss, source): (Sequential, _, _, String) = match &args.model {
        Some(path) => {
            let (net, meta) = pipeline::load_model(path)?;
            let source = args
                .data
                .clone()
                .unwrap_or_else(|| meta.data_source.clone());
            let md = pipeline::load_for_model(&source, args.target.as_deref(), &meta, true, false)?;
            (net, md.data, meta.loss, source)
        }
        None => {
            let flags = DataFlags {
                data: args.data.clone(),
                test: None,
                target: args.target.clone(),
                task: TaskFlag::Auto,
                val_split: 0.0,
                test_split: 0.0,
                split_file: None,
                train_rows: None,
                test_rows: None,
                standardize: None,
            };
            let prepared = pipeline::prepare_data(&flags, args.seed)?;
            let (plan, loss) = pipeline::network_plan(&args.arch, &prepared, args.seed)?;
            let net = plan.build()?;
            (net, prepared.train, loss, prepared.source)
        }
    };
    net.set_training(false);
    let rows = args.rows.min(data.len());
    if rows == 0 {
        return Err(CliError::failure(format!("{source}: no rows")));
    }
    let idx: Vec<usize> = (0..rows).collect();
    let mut x = vec![0.0f32; rows * data.n_features];
    data.fill_batch(&idx, &mut x).map_err(lib_err)?;
    let (labels, values);
    let targets = match &data.target {
        Target::Classes { labels: l, .. } => {
            labels = l[..rows].to_vec();
            Targets::Classes(&labels)
        }
        Target::Values { values: v, names } => {
            values = v[..rows * names.len()].to_vec();
            Targets::Values(&values)
        }
        Target::None => return Err(CliError::failure(format!("{source}: no target column"))),
    };
    let checks = check_gradients(&net, &x, rows, targets, loss, args.eps, args.max_per_tensor)
        .map_err(lib_err)?;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.f64_vs_numeric > args.tol || c.f32_vs_f64 > args.fused_tol)
        .map(|c| c.name.as_str())
        .collect();
    if args.json {
        let tensors: Vec<_> = checks
            .iter()
            .map(|c| {
                json!({"name": c.name, "checked": c.checked, "elements": c.total,
                       "autograd_vs_numeric": json_number(c.f64_vs_numeric),
                       "fused_vs_autograd": json_number(c.f32_vs_f64)})
            })
            .collect();
        print_json(&json!({
            "data": source, "rows": rows, "loss": loss.name(), "eps": args.eps,
            "tol": args.tol, "fused_tol": args.fused_tol, "tensors": tensors,
            "passed": failed.is_empty(),
        }))?;
    } else {
        println!(
            "gradcheck on {rows} rows of {source}, loss {}, eps {:e} (error = |a − b| / max(1, |a|, |b|))",
            loss.name(),
            args.eps
        );
        println!(
            "{:<12} {:>9}  {:>22}  {:>22}",
            "tensor", "checked", "backprop f64 vs numeric", "f32 vs f64 backprop"
        );
        for c in &checks {
            println!(
                "{:<12} {:>9}  {:>22.3e}  {:>22.3e}",
                c.name,
                format!("{}/{}", c.checked, c.total),
                c.f64_vs_numeric,
                c.f32_vs_f64
            );
        }
    }
    if failed.is_empty() {
        if !args.json {
            println!(
                "ok: every error is within tolerance (f64 vs numeric {:e}, f32 vs f64 {:e})",
                args.tol, args.fused_tol
            );
        }
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "gradcheck failed for {} (tolerances: f64 vs numeric {:e}, f32 vs f64 {:e})",
            failed.join(", "),
            args.tol,
            args.fused_tol
        )))
    }
}

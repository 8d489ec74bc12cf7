//! `nabla train --cascade`: the part of `train` that grows a cascade-correlation network
//! (the algorithm is [`nabla::train::cascade`]); flags in, one library call, figures out.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::json;

use nabla::data::Task;
use nabla::io::{ModelMeta, FORMAT_VERSION};
use nabla::nn::Sequential;
use nabla::train::{train_cascade, CascadeConfig, CascadeStop, UnitRecord};

use super::train::{ctrlc_handler, data_banner, Args, INTERRUPTED};
use super::{json_number, print_json, CliError};
use crate::pipeline::{self, figures, lib_err, metrics_json, metrics_text, Prepared};

/// Grow, evaluate and save a cascade network on `data` as `args` ask.
pub fn run(args: &Args, data: Prepared, out: &Path, t0: Instant) -> Result<(), CliError> {
    let (plan, loss) = pipeline::network_plan(&args.arch, &data, args.seed)?;
    let mut cfg = CascadeConfig::new(loss, data.task, plan.outputs);
    cfg.seed = args.seed;
    for (flag, given, field) in [
        ("--max-units", args.max_units, &mut cfg.max_units),
        ("--candidates", args.candidates, &mut cfg.candidates),
        ("--epochs", args.epochs, &mut cfg.output_epochs),
    ] {
        match given {
            Some(0) if flag != "--max-units" => {
                return Err(CliError::usage(format!("{flag} 0: must be at least 1")))
            }
            Some(v) => *field = v,
            None => {}
        }
    }
    if !args.quiet {
        data_banner(args, &data);
        let kinds: Vec<&str> = cfg.activations.iter().map(|a| a.name()).collect();
        eprintln!(
            "network: cascade-correlation, {} → up to {} hidden units → {} ({}); {} candidates \
             per unit ({}), patience {} units",
            data.train.n_features,
            cfg.max_units,
            plan.outputs,
            pipeline::describe_loss(loss, plan.outputs),
            cfg.candidates,
            kinds.join(", "),
            cfg.patience,
        );
        eprintln!(
            "training: full-batch rprop, up to {} candidate and {} output epochs per unit, \
             seed {}",
            cfg.candidate_epochs, cfg.output_epochs, args.seed
        );
    }
    ctrlc_handler();
    let quiet = args.quiet;
    let max_units = cfg.max_units;
    let mut on_stage = |r: &UnitRecord| {
        if !quiet {
            eprintln!("{}", stage_line(r, max_units));
        }
        match INTERRUPTED.load(Ordering::SeqCst) {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(()),
        }
    };
    let run = train_cascade(
        &data.train,
        data.val
            .as_ref()
            .map(|v| v as &dyn nabla::train::BatchSource),
        &cfg,
        &mut on_stage,
    )
    .map_err(|e| match e {
        nabla::Error::Diverged { .. } => CliError::failure(e.to_string()),
        other => lib_err(other),
    })?;
    let units = run.network.units().len();
    let mut net = Sequential::new(&[data.train.n_features]).with(run.network.clone());
    net.set_training(false);
    let scaler = data.target_scaler.as_ref();
    let (train_m, train_evaluated) = super::train::final_train_figures(&net, &data, loss)?;
    let val_m = match &data.val {
        Some(v) => Some(figures(&net, v, data.truth[1].as_deref(), loss, scaler)?),
        None => None,
    };
    let test_m = match &data.test {
        Some(t) if !t.is_empty() => Some(figures(&net, t, data.truth[2].as_deref(), loss, scaler)?),
        _ => None,
    };
    let seconds = t0.elapsed().as_secs_f64();
    let stop = match run.stop {
        CascadeStop::MaxUnits => "max_units",
        CascadeStop::ValidationStalled => "validation_stalled",
        CascadeStop::NoResidual => "no_residual",
        CascadeStop::Interrupted => "interrupted",
    };
    let stages: Vec<serde_json::Value> = run
        .stages
        .iter()
        .map(|r| {
            json!({
                "units": r.units,
                "activation": r.activation.map(|a| a.name()),
                "score": r.score.map(json_number),
                "candidate_epochs": r.candidate_epochs,
                "output_epochs": r.output_epochs,
                "train_loss": json_number(r.train_loss as f64),
                "val_loss": r.val_loss.map(|v| json_number(v as f64)),
                "seconds": r.seconds,
            })
        })
        .collect();
    let run_figures = json!({
        "cascade": {
            "units": units,
            "units_grown": run.stages.last().map_or(0, |r| r.units),
            "max_units": cfg.max_units,
            "candidates": cfg.candidates,
            "stop": stop,
            "stages": stages,
        },
        "train": metrics_json(&train_m),
        "train_rows_evaluated": train_evaluated,
        "val": val_m.as_ref().map(metrics_json),
        "test": test_m.as_ref().map(metrics_json),
        "seconds": seconds,
    });
    let mut settings = serde_json::to_value(args).unwrap_or_default();
    if let Some(o) = settings.as_object_mut() {
        o.remove("resume");
        o.remove("stop_after");
    }
    let mut training = run_figures.clone();
    training["rows"] = json!({
        "train": data.train.len(),
        "val": data.val.as_ref().map_or(0, |d| d.len()),
        "test": data.test.as_ref().map_or(0, |d| d.len()),
    });
    training["settings"] = settings;
    let meta = ModelMeta {
        format_version: FORMAT_VERSION,
        input_shape: net.input_shape().to_vec(),
        layers: net.specs(),
        architecture: None,
        task: data.task,
        loss,
        class_labels: data.class_names.clone(),
        feature_names: data.feature_names.clone(),
        target: data.target_name.clone(),
        standardization: data.standardizer.clone(),
        target_standardization: data.target_scaler.clone(),
        data_source: data.source.clone(),
        training,
    };
    nabla::io::save_model(out, &net, &meta, &BTreeMap::new()).map_err(lib_err)?;
    if args.json {
        let mut summary = run_figures;
        summary["units"] = json!(units);
        summary["task"] = json!(data.task);
        summary["model"] = json!(out.display().to_string());
        return print_json(&summary);
    }
    let grown = run.stages.last().map_or(0, |r| r.units);
    let why = match run.stop {
        CascadeStop::MaxUnits => format!("--max-units {} reached", cfg.max_units),
        CascadeStop::ValidationStalled => format!(
            "the validation loss did not fall for {} units",
            cfg.patience
        ),
        CascadeStop::NoResidual => "no residual error left".into(),
        CascadeStop::Interrupted => "interrupted".into(),
    };
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let kept = match (grown == units, data.val.is_some()) {
        (true, _) => String::new(),
        (false, true) => format!("; kept {units}, the best validation loss"),
        (false, false) => format!("; kept {units}"),
    };
    let mut lines = vec![format!(
        "grew {grown} hidden unit{} in {seconds:.1} s ({why}){kept}",
        s(grown)
    )];
    let names = match data.target_outputs {
        1 => vec![],
        k => pipeline::output_names(&meta, k),
    };
    lines.push(format!("train: {}", metrics_text(&train_m)));
    lines.extend(pipeline::per_output_text(&train_m, &names));
    if let Some(m) = &val_m {
        lines.push(format!("val:   {}", metrics_text(m)));
        lines.extend(pipeline::per_output_text(m, &names));
    }
    if let Some(m) = &test_m {
        lines.push(format!("test:  {}", metrics_text(m)));
        lines.extend(pipeline::per_output_text(m, &names));
        if let (Some(a), Task::Classify) = (m.accuracy, data.task) {
            lines.push(format!("test accuracy: {:.2}%", a * 100.0));
        }
    }
    lines.push(format!("model saved to {}", out.display()));
    println!("{}", lines.join("\n"));
    Ok(())
}

/// One progress line per stage: `unit  3/16 tanh   score 0.412  train loss 0.1234  val loss
/// 0.1301  (41 + 150 epochs, 0.2 s)`.
fn stage_line(r: &UnitRecord, max_units: usize) -> String {
    let mut line = match r.activation {
        None => format!("units  0/{max_units} (outputs only)"),
        Some(a) => format!(
            "unit {:>2}/{max_units} {:<7} score {:.3}",
            r.units,
            a.name(),
            r.score.unwrap_or(f64::NAN)
        ),
    };
    line.push_str(&format!("  train loss {:.4}", r.train_loss));
    if let Some(v) = r.val_loss {
        line.push_str(&format!("  val loss {v:.4}"));
    }
    line.push_str(&format!(
        "  ({} + {} epochs, {:.1} s)",
        r.candidate_epochs, r.output_epochs, r.seconds
    ));
    line
}

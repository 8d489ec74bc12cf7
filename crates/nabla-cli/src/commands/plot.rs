//! `nabla plot history|fn|activations|filters|feature-maps ... --out FILE.(png|svg)`:
//! pictures of training curves, of a function with its derivative and a gradient-descent path,
//! of the activations, and of a convolutional model's filters and feature maps.

use std::path::{Path, PathBuf};

use nabla::calculus::{critical, derivative, minimize, DescentOptions};
use nabla::nn::{LayerSpec, Sequential, Workspace};
use nabla::train::HistoryTable;

use super::critical::parse_interval;
use super::{parse_expr, parse_point, CliError};
use crate::figures::{
    draw_activations, draw_function, draw_history, draw_tile_blocks, render_to_file, FunctionPlot,
    TileBlock, TileScale,
};
use crate::pipeline::{lib_err, load_model, load_row};

/// Draw pictures: training curves, a function and its derivative, the activation functions, a
/// convolutional model's filters and feature maps.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

/// The kinds of picture.
#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Train and validation loss and accuracy per epoch, and per-parameter gradient norms on a
    /// log axis, from a history CSV (columns epoch, train_loss, val_loss, train_accuracy,
    /// val_accuracy, grad_norm_NAME... as `train --history` writes them).
    History(HistoryArgs),
    /// A one-variable function and its derivative, stationary points marked, and optionally a
    /// gradient-descent path drawn as steps on the curve.
    Fn(FnArgs),
    /// sigmoid, tanh, ReLU and leaky ReLU with their derivatives.
    Activations(ActivationArgs),
    /// The filters of a model's first conv2d layer, one small image per output channel.
    ///
    /// The layer's weights [out, in, kh, kw] are drawn as `out` images of kh×kw pixels,
    /// numbered by output channel; with several input channels each image is the mean of the
    /// filter over them. All images share one diverging colour scale: blue for negative
    /// weights, white for 0, red for positive, saturated at the layer's largest |weight| (the
    /// picture names it), so that filters compare with each other and signs show.
    Filters(FiltersArgs),
    /// What each conv2d layer of a model makes of one example: one grey image per channel.
    ///
    /// Row N of the data goes through the model as `predict` reads it (the model's target
    /// column dropped, its standardisation applied, shaped as the model's input). The picture
    /// has a titled block for the input and one per conv2d layer; a conv2d layer's block shows
    /// the output of the activation right after it when there is one (what the next layer
    /// sees), else the convolution's own output. Each channel's image is on its own grey
    /// scale, black at its minimum and white at its maximum (a constant channel is mid-grey,
    /// its value written beside its number).
    FeatureMaps(FeatureMapsArgs),
}

/// Output file and size, shared by every picture.
#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Output file; the format follows the extension (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Picture width in pixels.
    #[arg(long)]
    pub width: Option<u32>,
    /// Picture height in pixels.
    #[arg(long)]
    pub height: Option<u32>,
}

impl OutputArgs {
    fn size(&self, default: (u32, u32)) -> Result<(u32, u32), CliError> {
        let (w, h) = (
            self.width.unwrap_or(default.0),
            self.height.unwrap_or(default.1),
        );
        if !(100..=8000).contains(&w) || !(100..=8000).contains(&h) {
            return Err(CliError::usage(format!(
                "--width/--height: {w}×{h} is outside 100..8000 pixels"
            )));
        }
        Ok((w, h))
    }
}

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// The history CSV written by training.
    pub file: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct FnArgs {
    /// The expression in one variable, e.g. 'x*(x-1)*(x-2)*(x-3)'.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The interval A..B to draw, e.g. -0.5..3.5.
    #[arg(long = "in", value_name = "A..B", allow_hyphen_values = true)]
    pub interval: String,
    /// Draw gradient descent from this point, e.g. x=1.25.
    #[arg(long, value_name = "POINT")]
    pub descent_from: Option<String>,
    /// Learning rate of the descent.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub lr: f64,
    /// Most descent steps to draw.
    #[arg(long, default_value_t = 200)]
    pub max_steps: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct ActivationArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct FiltersArgs {
    /// A model file (from `nabla train` or `nabla::io::save_model`) with a conv2d layer.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct FeatureMapsArgs {
    /// A model file with at least one conv2d layer.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// The data source of the example (a CSV path, builtin:NAME, mnist:DIR).
    #[arg(long, value_name = "SOURCE")]
    pub data: String,
    /// The 0-based row of the example in the data.
    #[arg(long)]
    pub row: usize,
    /// Name of a target column to drop (default: the model's).
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn check_extension(path: &Path) -> Result<(), CliError> {
    crate::figures::ImageFormat::from_path(path)
        .map(|_| ())
        .map_err(CliError::usage)
}

/// Runs `nabla plot`.
pub fn run(args: Args) -> Result<(), CliError> {
    match args.what {
        What::History(a) => history(a),
        What::Fn(a) => function(a),
        What::Activations(a) => activations(a),
        What::Filters(a) => filters(a),
        What::FeatureMaps(a) => feature_maps(a),
    }
}

fn history(args: HistoryArgs) -> Result<(), CliError> {
    check_extension(&args.output.out)?;
    let (w, h) = args.output.size((1000, 1100))?;
    let series = HistoryTable::read_csv(&args.file).map_err(|e| history_error(&args.file, e))?;
    render_to_file!(&args.output.out, w, h, |root| draw_history(&root, &series))
        .map_err(CliError::failure)?;
    println!(
        "wrote {} ({w}×{h}, {} epochs)",
        args.output.out.display(),
        series.epochs.len()
    );
    Ok(())
}

/// A history file that cannot be read, in the words `plot history` uses:
/// `FILE: line L, column C (NAME): MESSAGE`, `FILE: MESSAGE` or `cannot read FILE: ...`.
fn history_error(file: &Path, e: nabla::Error) -> CliError {
    let file = file.display();
    CliError::failure(match e {
        nabla::Error::Io { source, .. } => format!("cannot read {file}: {source}"),
        nabla::Error::Data {
            line: Some(line),
            column: Some(column),
            msg,
            ..
        } => format!("{file}: line {line}, column {column}: {msg}"),
        nabla::Error::Data { msg, .. } => format!("{file}: {msg}"),
        other => format!("{file}: {other}"),
    })
}

fn function(args: FnArgs) -> Result<(), CliError> {
    check_extension(&args.output.out)?;
    let (w, h) = args.output.size((1000, 800))?;
    let expr = parse_expr(&args.expr)?;
    let (a, b) = parse_interval(&args.interval)?;
    let variables = expr.variables();
    if variables.len() > 1 {
        return Err(CliError::usage(format!(
            "plot fn draws functions of one variable; this one has {} ({})",
            variables.len(),
            variables.join(", ")
        )));
    }
    let var = variables
        .first()
        .cloned()
        .unwrap_or_else(|| "x".to_string());
    let slope = derivative(&expr, &var);
    let points = critical(&expr, a, b).map_err(|err| match err {
        nabla::Error::Param { .. } => CliError::usage(err.to_string()),
        other => CliError::failure(other.to_string()),
    })?;
    let mut path = None;
    if let Some(from) = &args.descent_from {
        let start = parse_point("--descent-from", from, &variables)?;
        let options = DescentOptions {
            lr: args.lr,
            max_steps: args.max_steps,
            ..DescentOptions::default()
        };
        let descent = minimize(&expr, &start, &options).map_err(|err| match err {
            nabla::Error::Param { .. } => CliError::usage(err.to_string()),
            other => CliError::failure(format!("gradient descent: {other}")),
        })?;
        let steps: Vec<(f64, f64)> = descent
            .steps
            .iter()
            .map(|s| (s.point.get(&var).copied().unwrap_or(f64::NAN), s.value))
            .collect();
        let last = steps.last().copied().unwrap_or((f64::NAN, f64::NAN));
        println!(
            "gradient descent from {from} with lr = {}: {} steps to {var} = {:.6}, f = {:.6}{}",
            args.lr,
            descent.iterations,
            last.0,
            last.1,
            if descent.converged {
                ""
            } else {
                " (not converged)"
            }
        );
        path = Some(steps);
    }
    let plot = FunctionPlot {
        expr: &expr,
        derivative: &slope,
        variable: &var,
        interval: (a, b),
        critical: &points,
        descent: path.as_deref(),
        lr: args.lr,
    };
    render_to_file!(&args.output.out, w, h, |root| draw_function(&root, &plot))
        .map_err(CliError::failure)?;
    println!(
        "wrote {} ({w}×{h}): f({var}) = {expr}, f′({var}) = {slope}, {} stationary point(s)",
        args.output.out.display(),
        points.len()
    );
    Ok(())
}

fn activations(args: ActivationArgs) -> Result<(), CliError> {
    check_extension(&args.output.out)?;
    let (w, h) = args.output.size((1000, 800))?;
    render_to_file!(&args.output.out, w, h, |root| draw_activations(&root))
        .map_err(CliError::failure)?;
    println!("wrote {} ({w}×{h})", args.output.out.display());
    Ok(())
}

/// The indices of the model's conv2d layers; none is an error for `plot {picture}` that lists
/// the layers the model has.
fn conv_layers(net: &Sequential, picture: &str) -> Result<Vec<usize>, CliError> {
    let specs = net.specs();
    let convs: Vec<usize> = (0..specs.len())
        .filter(|&i| matches!(specs[i], LayerSpec::Conv2d { .. }))
        .collect();
    if convs.is_empty() {
        let kinds: Vec<&str> = specs.iter().map(LayerSpec::kind).collect();
        return Err(CliError::failure(format!(
            "plot {picture}: the model has no conv2d layer; its layers are: {}",
            kinds.join(", ")
        )));
    }
    Ok(convs)
}

fn filters(args: FiltersArgs) -> Result<(), CliError> {
    check_extension(&args.output.out)?;
    let (w, h) = args.output.size((1000, 600))?;
    let (net, _) = load_model(&args.model)?;
    let layer = conv_layers(&net, "filters")?[0];
    let weight = net.layers()[layer]
        .parameters()
        .into_iter()
        .find(|(name, _)| *name == "weight")
        .map(|(_, var)| var.value().clone())
        .ok_or_else(|| CliError::failure(format!("layer {layer} (conv2d) has no weight")))?;
    let &[outputs, inputs, kh, kw] = weight.shape() else {
        return Err(CliError::failure(format!(
            "layer {layer} (conv2d): weight of shape {:?}, expected [out, in, kh, kw]",
            weight.shape()
        )));
    };
    // Filter o's mean over its input channels, kh×kw values.
    let tiles = weight
        .data()
        .chunks(inputs * kh * kw)
        .map(|filter| {
            (0..kh * kw)
                .map(|p| (0..inputs).map(|c| filter[c * kh * kw + p]).sum::<f32>() / inputs as f32)
                .collect()
        })
        .collect();
    let spec = net.layers()[layer].spec().describe();
    let mean = if inputs > 1 {
        format!(", each the mean over {inputs} input channels")
    } else {
        String::new()
    };
    let block = TileBlock {
        title: format!("{outputs} filters of {kh}×{kw}{mean}"),
        height: kh,
        width: kw,
        tiles,
        scale: TileScale::SharedDiverging,
    };
    let title =
        format!("Filters of layer {layer}: {spec}, weight [{outputs}, {inputs}, {kh}, {kw}]");
    render_to_file!(&args.output.out, w, h, |root| draw_tile_blocks(
        &root,
        &title,
        std::slice::from_ref(&block)
    ))
    .map_err(CliError::failure)?;
    println!("wrote {} ({w}×{h}): {title}", args.output.out.display());
    Ok(())
}

fn feature_maps(args: FeatureMapsArgs) -> Result<(), CliError> {
    check_extension(&args.output.out)?;
    let (net, meta) = load_model(&args.model)?;
    let convs = conv_layers(&net, "feature-maps")?;
    let default_height = (60 + 280 * (convs.len() as u32 + 1)).min(8000);
    let (w, h) = args.output.size((1000, default_height))?;
    let (_, x) = load_row(&args.data, args.target.as_deref(), &meta, false, args.row)?;
    let mut ws = Workspace::keeping_every_output(&net, 1).map_err(lib_err)?;
    net.forward_batch(&mut ws, &x, 1).map_err(lib_err)?;
    let layers = net.layers();
    let standardised = match meta.standardization {
        Some(_) => ", standardised as in training",
        None => "",
    };
    let input = TileBlock::channels(
        format!("input {}{standardised}", dims(net.input_shape())),
        net.input_shape(),
        &x,
        TileScale::OwnGrey,
    );
    let mut blocks = vec![input.map_err(CliError::failure)?];
    let mut shown = vec![];
    for &conv in &convs {
        let after = conv + 1;
        let (i, what) = match layers.get(after).and_then(|l| l.activation()) {
            Some(a) => (after, format!("{} after", a.name())),
            None => (conv, "output of".to_string()),
        };
        let shape = ws.shape(i);
        let title = format!(
            "layer {i}: {what} layer {conv}, {} — {}",
            layers[conv].spec().describe(),
            channel_count(shape)
        );
        let block = TileBlock::channels(title, shape, ws.layer_output(i), TileScale::OwnGrey);
        blocks.push(block.map_err(CliError::failure)?);
        shown.push(format!("layer {i} {}", dims(shape)));
    }
    let title = format!(
        "Feature maps of row {} of {} through {}",
        args.row,
        args.data,
        args.model.display()
    );
    render_to_file!(&args.output.out, w, h, |root| draw_tile_blocks(
        &root, &title, &blocks
    ))
    .map_err(CliError::failure)?;
    println!(
        "wrote {} ({w}×{h}): row {} of {}, {} conv layer(s): {}",
        args.output.out.display(),
        args.row,
        args.data,
        convs.len(),
        shown.join(", ")
    );
    Ok(())
}

/// `[4, 8, 8]` as `4×8×8`.
fn dims(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    parts.join("×")
}

/// `[4, 8, 8]` as `4 channels of 8×8`.
fn channel_count(shape: &[usize]) -> String {
    match shape {
        [c, rest @ ..] => format!("{c} channels of {}", dims(rest)),
        [] => "no values".into(),
    }
}

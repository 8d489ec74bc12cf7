//! Pictures drawn with plotters: training curves, a function with its derivative and a
//! gradient-descent path, the activation functions with their derivatives, and grids of small
//! images (a convolutional layer's filters, a row's feature maps).
//!
//! The output format follows the file extension: `.svg` is made by plotters' SVG backend,
//! `.png` is drawn into an RGB buffer by the bitmap backend and encoded with the `png` crate;
//! either is written atomically.
//! Text is laid out (and, in PNGs, rasterised) with a TrueType font read at run time from the
//! system (see [`ensure_font`]): no font file ships with nabla.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use nabla::calculus::{Critical, CriticalKind, Expr};
use nabla::nn::Activation;
use nabla::train::HistoryTable;

/// Fonts tried in order when `NABLA_FONT` is not set: Debian/Ubuntu (`fonts-dejavu-core`,
/// `fonts-liberation`, `fonts-noto-core`), Fedora, Arch, macOS and Windows locations.
const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// The font family name every chart uses.
pub const FONT: &str = "sans-serif";

/// Palette (colour-blind friendly, Okabe–Ito).
pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const VERMILION: RGBColor = RGBColor(213, 94, 0);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const SKY: RGBColor = RGBColor(86, 180, 233);
pub const GREY: RGBColor = RGBColor(120, 120, 120);
const SERIES: [RGBColor; 6] = [BLUE, VERMILION, GREEN, ORANGE, PURPLE, SKY];

/// Error type of the drawing code: a readable message.
pub type DrawResult<T = ()> = Result<T, String>;

fn draw_err<E: std::fmt::Display>(e: E) -> String {
    format!("drawing failed: {e}")
}

/// Registers a system TrueType font as [`FONT`] once per process: the file named by the
/// environment variable `NABLA_FONT`, else the first of [`FONT_CANDIDATES`] that exists.
/// Errors with instructions when none is found.
pub fn ensure_font() -> DrawResult {
    static LOADED: OnceLock<Result<String, String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let mut candidates: Vec<String> = Vec::new();
            if let Ok(path) = std::env::var("NABLA_FONT") {
                candidates.push(path);
            }
            candidates.extend(FONT_CANDIDATES.iter().map(|s| s.to_string()));
            for path in &candidates {
                let Ok(bytes) = std::fs::read(path) else {
                    continue;
                };
                // plotters keeps fonts for the life of the process: leak one copy.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok() {
                    return Ok(path.clone());
                }
            }
            Err(
                "no TrueType font found to draw text: install one (Debian/Ubuntu: \
                 apt-get install fonts-dejavu-core) or set NABLA_FONT=/path/to/font.ttf"
                    .to_string(),
            )
        })
        .clone()
        .map(|_| ())
}

/// The picture format chosen by a path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// `.png` or `.svg` (case-insensitive); anything else is an error naming the choices.
    pub fn from_path(path: &Path) -> DrawResult<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            _ => Err(format!(
                "cannot tell the picture format of {}: the file name must end in .png or .svg",
                path.display()
            )),
        }
    }
}

/// Writes `bytes` to `path` atomically (a temporary file renamed over it), so that a failed
/// drawing never leaves half a picture behind.
pub fn write_file(path: &Path, bytes: &[u8]) -> DrawResult {
    nabla::io::write_atomic(path, bytes).map_err(|e| format!("cannot write {e}"))
}

/// Draws with `draw` onto a `width × height` picture saved at `path` (PNG or SVG by its
/// extension, written atomically). A macro because plotters' drawing areas are generic over
/// the backend: `$body` is compiled once for each.
macro_rules! render_to_file {
    ($path:expr, $width:expr, $height:expr, |$root:ident| $body:expr) => {
        (|| -> Result<(), String> {
            let path: &std::path::Path = $path;
            let (width, height): (u32, u32) = ($width, $height);
            let bytes = match $crate::figures::ImageFormat::from_path(path)? {
                $crate::figures::ImageFormat::Svg => {
                    $crate::figures::render_svg_string(width, height, |area| {
                        let $root = area.clone();
                        $body
                    })?
                    .into_bytes()
                }
                $crate::figures::ImageFormat::Png => {
                    $crate::figures::render_png_bytes(width, height, |area| {
                        let $root = area.clone();
                        $body
                    })?
                }
            };
            $crate::figures::write_file(path, &bytes)
        })()
    };
}
pub(crate) use render_to_file;

/// Draws with `draw` onto an SVG held in a string (for inline SVG in HTML).
pub fn render_svg_string(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> DrawResult<String> {
    ensure_font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(out)
}

/// Draws with `draw` into an RGB buffer (the bitmap backend) and encodes it as PNG bytes.
pub fn render_png_bytes(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
) -> DrawResult<Vec<u8>> {
    ensure_font()?;
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        let mut writer = encoder.write_header().map_err(draw_err)?;
        writer.write_image_data(&rgb).map_err(draw_err)?;
    }
    Ok(bytes)
}

// ------------------------------------------------------------------ helpers

/// The range of the finite values, widened by 5% each side (and to a unit range when flat).
fn padded_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if hi - lo < 1e-12 {
        return Some((lo - 0.5, hi + 0.5));
    }
    let pad = 0.05 * (hi - lo);
    Some((lo - pad, hi + pad))
}

/// Splits a sampled curve into runs of finite points (so poles and gaps are not bridged).
fn finite_runs(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![];
    let mut run = vec![];
    for &(x, y) in points {
        if y.is_finite() {
            run.push((x, y));
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

fn title_style(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

// ------------------------------------------------------------------ history

/// A series' legend name, its (x, y) points and its colour.
type NamedSeries = (String, Vec<(f64, f64)>, RGBColor);

fn series_points(epochs: &[f64], values: &[Option<f64>]) -> Vec<(f64, f64)> {
    epochs
        .iter()
        .zip(values)
        .filter_map(|(&e, v)| v.filter(|v| v.is_finite()).map(|v| (e, v)))
        .collect()
}

/// One line chart of several named series on `area`; `log_y` uses a logarithmic y axis (only
/// positive values are drawn).
fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    series: &[NamedSeries],
    log_y: bool,
    x_label: &str,
) -> DrawResult {
    let all = || series.iter().flat_map(|(_, p, _)| p.iter());
    let Some((x0, x1)) = padded_range(all().map(|p| p.0)) else {
        area.titled(&format!("{title}: no data"), title_style(18.0))
            .map_err(draw_err)?;
        return Ok(());
    };
    let (x0, x1) = (x0.max(0.0), x1);
    if log_y {
        let positive: Vec<f64> = all().map(|p| p.1).filter(|v| *v > 0.0).collect();
        let lo = positive.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = positive.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if lo > hi {
            area.titled(&format!("{title}: no positive values"), title_style(18.0))
                .map_err(draw_err)?;
            return Ok(());
        }
        let (lo, hi) = (lo / 1.5, hi * 1.5);
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, (lo..hi).log_scale())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, 13))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(draw_err)?;
        for (name, points, color) in series {
            let pts: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.1 > 0.0).collect();
            let color = *color;
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(draw_err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        draw_legend(&mut chart)?;
    } else {
        let (y0, y1) = padded_range(all().map(|p| p.1)).unwrap_or((0.0, 1.0));
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, 13))
            .draw()
            .map_err(draw_err)?;
        for (name, points, color) in series {
            let color = *color;
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(draw_err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        draw_legend(&mut chart)?;
    }
    Ok(())
}

/// The legend in the upper right corner, in 14-point text.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> DrawResult {
    draw_legend_at(chart, SeriesLabelPosition::UpperRight, 14)
}

/// The legend on a light box at `position`, in `font_size`-point text.
fn draw_legend_at<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> DrawResult {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font((FONT, font_size))
        .position(position)
        .draw()
        .map_err(draw_err)
}

/// Training curves: loss (train and validation), accuracy (when present) and per-parameter
/// gradient norms on a log axis, stacked vertically on `root`.
pub fn draw_history<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &HistoryTable,
) -> DrawResult {
    root.fill(&WHITE).map_err(draw_err)?;
    let has_accuracy = s.has_accuracy();
    let has_grads = !s.grad_norms.is_empty();
    let panels = 1 + usize::from(has_accuracy) + usize::from(has_grads);
    let areas = root.split_evenly((panels, 1));
    let mut next = areas.iter();
    let named = |name: &str, values: &[Option<f64>], color| {
        (name.to_string(), series_points(&s.epochs, values), color)
    };
    // One panel of a training and a validation curve; a curve without points is left out.
    let train_and_val = |area, title, y_label, train: &[Option<f64>], val: &[Option<f64>]| {
        let series: Vec<_> = [
            named(&format!("train {y_label}"), train, BLUE),
            named(&format!("validation {y_label}"), val, VERMILION),
        ]
        .into_iter()
        .filter(|(_, p, _)| !p.is_empty())
        .collect();
        line_chart(area, title, y_label, &series, false, "epoch")
    };
    train_and_val(
        next.next().unwrap(),
        "Loss per epoch",
        "loss",
        &s.train_loss,
        &s.val_loss,
    )?;
    if has_accuracy {
        train_and_val(
            next.next().unwrap(),
            "Accuracy per epoch",
            "accuracy",
            &s.train_accuracy,
            &s.val_accuracy,
        )?;
    }
    if has_grads {
        let grads: Vec<_> = s
            .grad_norms
            .iter()
            .enumerate()
            .map(|(i, (name, v))| named(&format!("‖∂L/∂{name}‖"), v, SERIES[i % SERIES.len()]))
            .collect();
        line_chart(
            next.next().unwrap(),
            "Gradient norm per parameter (log scale)",
            "gradient norm",
            &grads,
            true,
            "epoch",
        )?;
    }
    Ok(())
}

// ------------------------------------------------------------------ function and derivative

/// What `plot fn` draws.
pub struct FunctionPlot<'a> {
    pub expr: &'a Expr,
    pub derivative: &'a Expr,
    pub variable: &'a str,
    pub interval: (f64, f64),
    pub critical: &'a [Critical],
    /// (x, f(x)) of each gradient-descent state, starting point first.
    pub descent: Option<&'a [(f64, f64)]>,
    /// Learning rate of the descent, for the legend.
    pub lr: f64,
}

/// Samples `expr` in one variable at `n + 1` evenly spaced points of [a, b].
pub fn sample(expr: &Expr, var: &str, a: f64, b: f64, n: usize) -> Vec<(f64, f64)> {
    (0..=n)
        .map(|i| {
            let x = a + (b - a) * i as f64 / n as f64;
            let y = expr.eval(&[(var, x)]).unwrap_or(f64::NAN);
            (x, y)
        })
        .collect()
}

/// A y range for a sampled curve that ignores poles: the 1st–99th percentile of the finite
/// values when the extremes are far outside it.
fn robust_range(points: &[(f64, f64)], extra: &[f64]) -> (f64, f64) {
    let mut ys: Vec<f64> = points
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    ys.extend(extra.iter().copied().filter(|v| v.is_finite()));
    if ys.is_empty() {
        return (-1.0, 1.0);
    }
    ys.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| ys[((ys.len() - 1) as f64 * p).round() as usize];
    let (lo, hi) = (ys[0], ys[ys.len() - 1]);
    let (q1, q99) = (q(0.01), q(0.99));
    let spread = (q99 - q1).max(1e-12);
    let lo = if q1 - lo > 3.0 * spread { q1 } else { lo };
    let hi = if hi - q99 > 3.0 * spread { q99 } else { hi };
    padded_range([lo, hi].into_iter()).unwrap_or((-1.0, 1.0))
}

/// f on top (stationary points marked, descent path drawn as steps on the curve) and f′ below
/// (with its zero line).
pub fn draw_function<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &FunctionPlot<'_>,
) -> DrawResult {
    root.fill(&WHITE).map_err(draw_err)?;
    let (a, b) = plot.interval;
    let v = plot.variable;
    let curve = sample(plot.expr, v, a, b, 800);
    let slope = sample(plot.derivative, v, a, b, 800);
    let (top, bottom) = root.split_vertically((root.dim_in_pixel().1 as f64 * 0.62) as u32);

    let extra: Vec<f64> = plot.critical.iter().map(|c| c.value).collect();
    let (y0, y1) = robust_range(&curve, &extra);
    let mut chart = ChartBuilder::on(&top)
        .caption(format!("f({v}) = {}", plot.expr), (FONT, 20))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(a..b, y0..y1)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .y_desc("f")
        .label_style((FONT, 13))
        .draw()
        .map_err(draw_err)?;
    for (i, run) in finite_runs(&curve).into_iter().enumerate() {
        let s = chart
            .draw_series(LineSeries::new(run, BLUE.stroke_width(2)))
            .map_err(draw_err)?;
        if i == 0 {
            s.label("f")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
        }
    }
    if let Some(path) = plot.descent {
        let inside: Vec<(f64, f64)> = path
            .iter()
            .copied()
            .filter(|(x, y)| (a..=b).contains(x) && y.is_finite())
            .collect();
        // The steps: from (x_k, f(x_k)) across to x_{k+1} and down/up onto the curve.
        let mut stairs = vec![];
        for w in inside.windows(2) {
            stairs.push(w[0]);
            stairs.push((w[1].0, w[0].1));
            stairs.push(w[1]);
        }
        if inside.len() == 1 {
            stairs.push(inside[0]);
        }
        chart
            .draw_series(LineSeries::new(stairs, ORANGE.stroke_width(2)))
            .map_err(draw_err)?
            .label(format!(
                "gradient descent, lr = {} ({} steps)",
                plot.lr,
                path.len() - 1
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], ORANGE.stroke_width(2)));
        chart
            .draw_series(inside.iter().map(|&p| Circle::new(p, 3, ORANGE.filled())))
            .map_err(draw_err)?;
        if let Some(&start) = inside.first() {
            chart
                .draw_series(std::iter::once(Text::new(
                    "start",
                    start,
                    (FONT, 14).into_font().color(&ORANGE),
                )))
                .map_err(draw_err)?;
        }
    }
    for c in plot.critical {
        let color = match c.kind {
            CriticalKind::Minimum => GREEN,
            CriticalKind::Maximum => VERMILION,
            _ => PURPLE,
        };
        chart
            .draw_series(std::iter::once(Circle::new(
                (c.x, c.value),
                6,
                color.filled(),
            )))
            .map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{} ({:.3}, {:.3})", c.kind, c.x, c.value),
                (c.x, c.value),
                (FONT, 13).into_font().color(&color),
            )))
            .map_err(draw_err)?;
    }
    draw_legend(&mut chart)?;

    let (d0, d1) = robust_range(&slope, &[0.0]);
    let mut chart = ChartBuilder::on(&bottom)
        .caption(format!("f′({v}) = {}", plot.derivative), (FONT, 18))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(a..b, d0..d1)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(v)
        .y_desc("f′")
        .label_style((FONT, 13))
        .draw()
        .map_err(draw_err)?;
    chart
        .draw_series(LineSeries::new(
            vec![(a, 0.0), (b, 0.0)],
            GREY.stroke_width(1),
        ))
        .map_err(draw_err)?;
    for run in finite_runs(&slope) {
        chart
            .draw_series(LineSeries::new(run, VERMILION.stroke_width(2)))
            .map_err(draw_err)?;
    }
    chart
        .draw_series(
            plot.critical
                .iter()
                .map(|c| Circle::new((c.x, 0.0), 5, BLACK.filled())),
        )
        .map_err(draw_err)?;
    Ok(())
}

// ------------------------------------------------------------------ activations

/// The slope of leaky ReLU drawn by [`draw_activations`] (larger than the library's 0.01 so that
/// it is visible).
pub const LEAKY_ALPHA: f32 = 0.1;

/// One activation drawn by [`draw_activations`], with its titles.
pub struct ActivationCurve {
    pub name: &'static str,
    /// The library's activation, whose [`Activation::curve`] gives the points.
    pub activation: Activation,
    /// Derivative formula for the legend.
    pub derivative_text: &'static str,
}

/// sigmoid, tanh, ReLU and leaky ReLU (kinks as in the library: ReLU′(0) = 0,
/// leaky ReLU′(0) = α).
pub fn activation_curves() -> [ActivationCurve; 4] {
    [
        ActivationCurve {
            name: "sigmoid σ(z)",
            activation: Activation::Sigmoid,
            derivative_text: "σ′(z) = σ(1 − σ), at most 0.25",
        },
        ActivationCurve {
            name: "tanh(z)",
            activation: Activation::Tanh,
            derivative_text: "tanh′(z) = 1 − tanh², at most 1",
        },
        ActivationCurve {
            name: "ReLU max(z, 0)",
            activation: Activation::Relu,
            derivative_text: "ReLU′(z) = 1 for z > 0, else 0",
        },
        ActivationCurve {
            name: "leaky ReLU, α = 0.1",
            activation: Activation::LeakyRelu { alpha: LEAKY_ALPHA },
            derivative_text: "leaky ReLU′(z) = 1 for z > 0, else α",
        },
    ]
}

/// A 2×2 grid: each activation (blue) and its derivative (red) on z ∈ [−5, 5], with the
/// derivative's peak marked.
pub fn draw_activations<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> DrawResult {
    root.fill(&WHITE).map_err(draw_err)?;
    let (header, body) = root.split_vertically(40);
    header
        .draw(&Text::new(
            "Activations and their derivatives: σ′ peaks at 0.25, so each sigmoid layer shrinks the gradient",
            (12, 10),
            (FONT, 18).into_font(),
        ))
        .map_err(draw_err)?;
    let (lo, hi) = (-5.0f64, 5.0f64);
    for (area, curve) in body.split_evenly((2, 2)).iter().zip(activation_curves()) {
        let points = curve.activation.curve(lo, hi, 401);
        let f: Vec<(f64, f64)> = points.iter().map(|&(z, a, _)| (z, a)).collect();
        let d: Vec<(f64, f64)> = points.iter().map(|&(z, _, slope)| (z, slope)).collect();
        let (y0, y1) = padded_range(f.iter().chain(&d).map(|p| p.1)).unwrap_or((-1.0, 1.0));
        let mut chart = ChartBuilder::on(area)
            .caption(curve.name, (FONT, 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(45)
            .build_cartesian_2d(lo..hi, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("z")
            .label_style((FONT, 12))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new(f, BLUE.stroke_width(2)))
            .map_err(draw_err)?
            .label(curve.name)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
        // Draw the derivative in pieces so the jump of ReLU′ at 0 stays a jump.
        let mut pieces: Vec<Vec<(f64, f64)>> = vec![vec![]];
        for w in d.windows(2) {
            pieces.last_mut().unwrap().push(w[0]);
            if (w[1].1 - w[0].1).abs() > 0.2 {
                pieces.push(vec![]);
            }
        }
        pieces.last_mut().unwrap().push(*d.last().unwrap());
        for (i, piece) in pieces.into_iter().enumerate() {
            let s = chart
                .draw_series(LineSeries::new(piece, VERMILION.stroke_width(2)))
                .map_err(draw_err)?;
            if i == 0 {
                s.label(curve.derivative_text).legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], VERMILION.stroke_width(2))
                });
            }
        }
        let peak = d.iter().copied().fold(
            (0.0, f64::NEG_INFINITY),
            |m, p| if p.1 > m.1 { p } else { m },
        );
        if curve.name.starts_with("sigmoid") {
            chart
                .draw_series(std::iter::once(Circle::new(peak, 5, VERMILION.filled())))
                .map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(" σ′(0) = {:.2}", peak.1),
                    (peak.0 + 0.2, peak.1 + 0.05),
                    (FONT, 14).into_font().color(&VERMILION),
                )))
                .map_err(draw_err)?;
        }
        draw_legend_at(&mut chart, SeriesLabelPosition::UpperLeft, 13)?;
    }
    Ok(())
}

// ------------------------------------------------------------------ grids of small images

/// How a block's values become colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileScale {
    /// Each tile on its own grey scale: black at its smallest value, white at its largest; a
    /// tile whose values are all equal is mid-grey, its value written beside its number.
    OwnGrey,
    /// One diverging scale for the whole block: blue at −m, white at 0, red at +m, with m the
    /// largest |value| in the block, so that tiles compare and signs show.
    SharedDiverging,
}

/// A titled block of small images of one size (`height × width` values each, row-major),
/// drawn in a grid and numbered from 0.
pub struct TileBlock {
    pub title: String,
    pub height: usize,
    pub width: usize,
    pub tiles: Vec<Vec<f32>>,
    pub scale: TileScale,
}

impl TileBlock {
    /// One tile per channel of a `[channels, height, width]` row.
    pub fn channels(
        title: String,
        shape: &[usize],
        values: &[f32],
        scale: TileScale,
    ) -> DrawResult<Self> {
        let &[c, h, w] = shape else {
            return Err(format!(
                "{title}: shape {shape:?} is not [channels, height, width]"
            ));
        };
        if values.len() != c * h * w || h * w == 0 {
            return Err(format!(
                "{title}: {} values for shape {shape:?}",
                values.len()
            ));
        }
        let tiles = values.chunks(h * w).map(<[f32]>::to_vec).collect();
        Ok(TileBlock {
            title,
            height: h,
            width: w,
            tiles,
            scale,
        })
    }

    /// The note under the title that says how to read the colours.
    fn scale_note(&self) -> String {
        match self.scale {
            TileScale::OwnGrey => {
                "each image on its own grey scale: black = its minimum, white = its maximum".into()
            }
            TileScale::SharedDiverging => {
                let m = self.largest_magnitude();
                format!("one scale for all: blue = −{m:.3}, white = 0, red = +{m:.3}")
            }
        }
    }

    fn largest_magnitude(&self) -> f32 {
        self.tiles
            .iter()
            .flatten()
            .filter(|v| v.is_finite())
            .fold(0.0f32, |m, v| m.max(v.abs()))
    }
}

/// The finite minimum and maximum of `values`, if any.
fn finite_min_max(values: &[f32]) -> Option<(f32, f32)> {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// `a` blended towards `b` by `t` in [0, 1].
fn blend(a: RGBColor, b: RGBColor, t: f32) -> RGBColor {
    let mix = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * t.clamp(0.0, 1.0)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The colour of every value of one tile (non-finite values are mid-grey).
fn tile_colours(values: &[f32], scale: TileScale, magnitude: f32) -> Vec<RGBColor> {
    let mid = RGBColor(128, 128, 128);
    let own = finite_min_max(values);
    values
        .iter()
        .map(|&v| match (scale, own) {
            _ if !v.is_finite() => mid,
            (TileScale::OwnGrey, Some((lo, hi))) if hi > lo => {
                blend(BLACK, WHITE, (v - lo) / (hi - lo))
            }
            (TileScale::OwnGrey, _) => mid,
            (TileScale::SharedDiverging, _) if magnitude == 0.0 => WHITE,
            (TileScale::SharedDiverging, _) if v < 0.0 => blend(WHITE, BLUE, -v / magnitude),
            (TileScale::SharedDiverging, _) => blend(WHITE, VERMILION, v / magnitude),
        })
        .collect()
}

/// Pixels between a tile's number and its image, and between cells.
const TILE_LABEL: u32 = 14;
const TILE_GAP: u32 = 8;
/// The largest side a tile is drawn at.
const TILE_MAX_SIDE: f64 = 240.0;

/// Columns and pixels per value that make `n` tiles of `rows × cols` values largest on a
/// `width × height` area (each cell also holds a label strip and a gap).
fn tile_layout(n: usize, (rows, cols): (usize, usize), width: u32, height: u32) -> (usize, f64) {
    let mut best = (1, 0.0);
    for columns in 1..=n {
        let grid_rows = n.div_ceil(columns);
        let cell_w = (width as f64 - (columns as f64 - 1.0) * TILE_GAP as f64) / columns as f64;
        let cell_h = height as f64 / grid_rows as f64 - (TILE_LABEL + TILE_GAP) as f64;
        let scale = (cell_w / cols as f64)
            .min(cell_h / rows as f64)
            .min(TILE_MAX_SIDE / rows.max(cols) as f64);
        if scale > best.1 {
            best = (columns, scale);
        }
    }
    // Whole pixels per value when there is room for at least one.
    (
        best.0,
        if best.1 >= 1.0 {
            best.1.floor()
        } else {
            best.1
        },
    )
}

/// One block: its title and scale note, then its tiles in a centred grid, each numbered and
/// framed in grey.
fn draw_tile_block<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    block: &TileBlock,
) -> DrawResult {
    area.draw(&Text::new(
        block.title.as_str(),
        (12, 6),
        (FONT, 16).into_font(),
    ))
    .map_err(draw_err)?;
    area.draw(&Text::new(
        block.scale_note(),
        (12, 26),
        (FONT, 12).into_font().color(&GREY),
    ))
    .map_err(draw_err)?;
    let (width, height) = area.dim_in_pixel();
    let (grid_w, grid_h) = (width.saturating_sub(24), height.saturating_sub(52));
    let n = block.tiles.len();
    let (columns, scale) = tile_layout(n, (block.height, block.width), grid_w, grid_h);
    let (tile_w, tile_h) = (scale * block.width as f64, scale * block.height as f64);
    if tile_w < block.width as f64 * 0.5 || tile_h < 1.0 {
        return Err(format!(
            "{}: {n} images of {}×{} do not fit in {width}×{height} pixels; pass a larger \
             --width/--height",
            block.title, block.height, block.width
        ));
    }
    let used_w = columns as f64 * tile_w + (columns as f64 - 1.0) * TILE_GAP as f64;
    let left = 12.0 + (grid_w as f64 - used_w).max(0.0) / 2.0;
    let magnitude = block.largest_magnitude();
    for (k, values) in block.tiles.iter().enumerate() {
        let x0 = left + (k % columns) as f64 * (tile_w + TILE_GAP as f64);
        let label_y = 44.0 + (k / columns) as f64 * (tile_h + (TILE_LABEL + TILE_GAP) as f64);
        let y0 = label_y + TILE_LABEL as f64;
        // A flat tile on its own scale is mid-grey; its label gives the value.
        let label = match (block.scale, finite_min_max(values)) {
            (TileScale::OwnGrey, Some((lo, hi))) if lo == hi => {
                let v = format!("{lo:.3}");
                format!("{k} = {}", v.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => k.to_string(),
        };
        area.draw(&Text::new(
            label,
            (x0 as i32, label_y as i32),
            (FONT, 11).into_font().color(&GREY),
        ))
        .map_err(draw_err)?;
        // Pixel edges rounded from one grid so that neighbouring values leave no gaps.
        let edge = |origin: f64, i: usize| (origin + i as f64 * scale).round() as i32;
        let colours = tile_colours(values, block.scale, magnitude);
        for (i, row) in colours.chunks(block.width).enumerate() {
            for (j, colour) in row.iter().enumerate() {
                area.draw(&Rectangle::new(
                    [
                        (edge(x0, j), edge(y0, i)),
                        (edge(x0, j + 1), edge(y0, i + 1)),
                    ],
                    colour.filled(),
                ))
                .map_err(draw_err)?;
            }
        }
        area.draw(&Rectangle::new(
            [
                (edge(x0, 0) - 1, edge(y0, 0) - 1),
                (edge(x0, block.width), edge(y0, block.height)),
            ],
            GREY.stroke_width(1),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

/// `title` across the top, then `blocks` stacked one under another, each an equal share of
/// the height.
pub fn draw_tile_blocks<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    blocks: &[TileBlock],
) -> DrawResult {
    root.fill(&WHITE).map_err(draw_err)?;
    let (header, body) = root.split_vertically(40);
    header
        .draw(&Text::new(title, (12, 10), (FONT, 18).into_font()))
        .map_err(draw_err)?;
    if blocks.is_empty() {
        return Err(format!("{title}: nothing to draw"));
    }
    for (area, block) in body.split_evenly((blocks.len(), 1)).iter().zip(blocks) {
        draw_tile_block(area, block)?;
    }
    Ok(())
}

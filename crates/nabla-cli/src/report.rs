//! The training report: one self-contained HTML page (inline CSS and inline SVG curves, no
//! scripts, no external resources), so it opens offline in any browser.

use nabla::train::{History, Metrics};

use crate::figures::{draw_history, render_svg_string};

/// A confusion matrix: `counts[true][predicted]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<usize>>,
}

/// Everything the report shows.
#[derive(Clone, Debug)]
pub struct ReportInput {
    /// Page title, e.g. "nabla training report: iris".
    pub title: String,
    /// A few lines describing the data (rows, features, classes, splits).
    pub data_summary: String,
    /// The network, e.g. "4 → 16 (relu) → 3 (identity)".
    pub architecture: String,
    /// Settings as name/value pairs (epochs, batch size, optimiser, learning rate, ...).
    pub hyperparameters: Vec<(String, String)>,
    pub history: History,
    /// Final figures per split, e.g. ("train", ...), ("validation", ...), ("test", ...).
    pub final_metrics: Vec<(String, Metrics)>,
    pub confusion: Option<Confusion>,
    /// Diagnostics warnings (saturation, dead units, divergence, ...).
    pub warnings: Vec<String>,
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;\
max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .7em;\
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}pre{background:#f7f7f7;\
padding:.7em;white-space:pre-wrap}.warn{background:#fff4e0;border-left:4px solid #e69f00;\
padding:.4em .8em;margin:.3em 0}.ok{color:#2a7}";

/// Renders the report as a complete HTML document.
pub fn render_report(input: &ReportInput) -> Result<String, String> {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str(&format!(
        "<title>{}</title><style>{STYLE}</style></head><body>\n",
        html_escape(&input.title)
    ));
    h.push_str(&format!("<h1>{}</h1>\n", html_escape(&input.title)));

    h.push_str("<h2>Final metrics</h2>\n<table><tr><th class=\"l\">split</th><th>loss</th><th>accuracy</th><th>RMSE</th><th>MAE</th><th>R²</th></tr>\n");
    let opt = |v: Option<f32>, f: &dyn Fn(f32) -> String| v.map(f).unwrap_or_else(|| "–".into());
    let accuracy = |v: Option<f64>| v.map(pct).unwrap_or_else(|| "–".into());
    for (split, m) in &input.final_metrics {
        h.push_str(&format!(
            "<tr><td class=\"l\">{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            html_escape(split),
            m.loss,
            accuracy(m.accuracy),
            opt(m.rmse, &|v| format!("{v:.4}")),
            opt(m.mae, &|v| format!("{v:.4}")),
            opt(m.r2, &|v| format!("{v:.4}")),
        ));
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Diagnostics</h2>\n");
    if input.warnings.is_empty() {
        h.push_str("<p class=\"ok\">No warnings.</p>\n");
    }
    for w in &input.warnings {
        h.push_str(&format!("<div class=\"warn\">{}</div>\n", html_escape(w)));
    }

    h.push_str(&format!(
        "<h2>Data</h2>\n<pre>{}</pre>\n",
        html_escape(&input.data_summary)
    ));
    h.push_str(&format!(
        "<h2>Architecture</h2>\n<pre>{}</pre>\n",
        html_escape(&input.architecture)
    ));
    h.push_str("<h2>Hyperparameters</h2>\n<table>\n");
    for (k, v) in &input.hyperparameters {
        h.push_str(&format!(
            "<tr><th class=\"l\">{}</th><td class=\"l\">{}</td></tr>\n",
            html_escape(k),
            html_escape(v)
        ));
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Training curves</h2>\n");
    if input.history.epochs.is_empty() {
        h.push_str("<p>No epochs were run.</p>\n");
    } else {
        let series = input.history.table();
        let panels =
            1 + usize::from(series.has_accuracy()) + usize::from(!series.grad_norms.is_empty());
        let svg = render_svg_string(960, 330 * panels as u32, |root| draw_history(root, &series))?;
        h.push_str(&format!("<div class=\"curves\">{svg}</div>\n"));
    }

    if let Some(c) = &input.confusion {
        h.push_str("<h2>Confusion matrix</h2>\n<p>Rows: true class; columns: predicted class.</p>\n<table><tr><th class=\"l\">true \\ predicted</th>");
        for l in &c.labels {
            h.push_str(&format!("<th>{}</th>", html_escape(l)));
        }
        h.push_str("</tr>\n");
        let max = c.counts.iter().flatten().copied().max().unwrap_or(0).max(1);
        for (label, row) in c.labels.iter().zip(&c.counts) {
            h.push_str(&format!("<tr><th class=\"l\">{}</th>", html_escape(label)));
            for (j, &n) in row.iter().enumerate() {
                let shade = 255 - (150 * n / max) as u8;
                let is_diag = c.labels.get(j) == Some(label);
                let color = if is_diag {
                    format!("rgb({shade},255,{shade})")
                } else {
                    format!("rgb(255,{shade},{shade})")
                };
                h.push_str(&format!("<td style=\"background:{color}\">{n}</td>"));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    h.push_str("<p style=\"color:#888;font-size:.85em\">Written by nabla; this page loads nothing from the network.</p>\n</body></html>\n");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla::data::Task;
    use nabla::loss::Loss;
    use nabla::nn::{Activation, MlpConfig, Sequential};
    use nabla::optim::{Adam, AdamConfig};
    use nabla::train::{
        evaluate, predicted_class, ArrayData, NoCallback, TargetData, TrainConfig, Trainer,
    };
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Two Gaussian-ish blobs per class on a line: class k centred at x1 = 2k (deterministic).
    fn blobs(n: usize, seed: u64) -> (ArrayData, Vec<f32>, Vec<u32>) {
        let mut r = nabla::rng::Rng::new(seed);
        let (mut x, mut y) = (vec![], vec![]);
        for i in 0..n {
            let k = (i % 3) as u32;
            x.extend([
                2.0 * k as f32 + r.uniform(-0.9, 0.9) as f32,
                r.uniform(-1.0, 1.0) as f32,
            ]);
            y.push(k);
        }
        (
            ArrayData::new(x.clone(), 2, TargetData::Classes(y.clone())).unwrap(),
            x,
            y,
        )
    }

    fn real_report() -> (ReportInput, f64) {
        let (train, _, _) = blobs(300, 1);
        let (val, vx, vy) = blobs(90, 2);
        let mut net = Sequential::mlp(
            &MlpConfig::new(2, [8], 3)
                .with_activation(Activation::Tanh)
                .with_seed(5),
        )
        .unwrap();
        let mut opt = Adam::new(net.parameters(), AdamConfig::with_lr(0.03)).unwrap();
        let cfg = TrainConfig::new(Loss::CrossEntropy)
            .with_epochs(12)
            .with_batch_size(32);
        let history = Trainer::new(&mut net, &mut opt, cfg)
            .unwrap()
            .fit(&train, Some(&val), &mut NoCallback)
            .unwrap();
        let m = evaluate(&net, &val, Loss::CrossEntropy, Task::Classify, 64).unwrap();
        // Confusion matrix from the network's own predictions on the validation rows.
        let mut counts = vec![vec![0usize; 3]; 3];
        let out = nabla::autograd::no_grad(|| {
            let x = nabla::autograd::Var::constant(
                nabla::Tensor::from_vec(vx.iter().map(|&v| v as f64).collect(), &[vy.len(), 2])
                    .unwrap(),
            );
            net.to_f64().unwrap().record(&x).unwrap().value().clone()
        });
        for (i, &t) in vy.iter().enumerate() {
            counts[t as usize][predicted_class(
                &out.data()[i * 3..i * 3 + 3]
                    .iter()
                    .map(|&v| v as f32)
                    .collect::<Vec<_>>(),
            )] += 1;
        }
        let accuracy = m.accuracy.unwrap();
        let correct: usize = (0..3).map(|k| counts[k][k]).sum();
        assert_eq!(
            correct as f64 / vy.len() as f64,
            accuracy,
            "confusion diagonal vs accuracy"
        );
        (
            ReportInput {
                title: "nabla training report: three blobs".into(),
                data_summary: "300 training rows, 90 validation rows, 2 features, 3 classes".into(),
                architecture: "2 → 8 (tanh) → 3 (identity), softmax cross-entropy".into(),
                hyperparameters: vec![
                    ("epochs".into(), "12".into()),
                    ("batch size".into(), "32".into()),
                    ("optimiser".into(), "Adam, lr 0.03".into()),
                ],
                history,
                final_metrics: vec![("validation".into(), m)],
                confusion: Some(Confusion {
                    labels: vec!["a".into(), "b".into(), "c".into()],
                    counts,
                }),
                warnings: vec!["example warning: <b>not</b> markup".into()],
            },
            accuracy,
        )
    }

    fn chromium() -> Option<PathBuf> {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            if let Ok(out) = Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {name}"))
                .output()
            {
                let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if out.status.success() && !path.is_empty() {
                    return Some(PathBuf::from(path));
                }
            }
        }
        None
    }

    fn headless(
        browser: &Path,
        profile: &Path,
        extra: &[String],
        page: &Path,
    ) -> std::process::Output {
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium")
    }

    #[test]
    fn report_is_self_contained_and_escapes_text() {
        let (input, accuracy) = real_report();
        let html = render_report(&input).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(&pct(accuracy)));
        assert!(html.contains("<svg"), "inline SVG curves");
        assert!(
            html.contains("&lt;b&gt;not&lt;/b&gt;"),
            "warnings are escaped"
        );
        for external in ["http://", "https://", "<script", "<link", "src="] {
            let allowed_xmlns = external == "http://"
                && html.matches("http://").count()
                    == html.matches("xmlns=\"http://").count()
                        + html.matches("xmlns:xlink=\"http://").count();
            assert!(
                allowed_xmlns || !html.contains(external),
                "page refers to {external}"
            );
        }
    }

    /// Opens the report in headless Chromium: the screenshot decodes, is the requested size and
    /// not blank, and the rendered page's text holds the final accuracy. Fails when Chromium is
    /// missing unless NABLA_SKIP_BROWSER=1 (`.ci/install-test-deps` installs it).
    #[test]
    fn report_renders_in_headless_chromium() {
        let Some(browser) = chromium() else {
            if std::env::var("NABLA_SKIP_BROWSER").as_deref() == Ok("1") {
                eprintln!("skipped: no chromium and NABLA_SKIP_BROWSER=1");
                return;
            }
            panic!("chromium is not installed (apt-get install chromium, or run .ci/install-test-deps); set NABLA_SKIP_BROWSER=1 to skip");
        };
        let (input, accuracy) = real_report();
        let dir = std::env::temp_dir().join(format!("nabla-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let page = dir.join("report.html");
        std::fs::write(&page, render_report(&input).unwrap()).unwrap();
        let shot = dir.join("shot.png");
        let out = headless(
            &browser,
            &dir.join("profile1"),
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1200,1600".into(),
            ],
            &page,
        );
        assert!(
            shot.exists(),
            "no screenshot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let decoder = png::Decoder::new(std::fs::File::open(&shot).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (1200, 1600));
        let pixels = &buf[..info.buffer_size()];
        let step = info.color_type.samples();
        let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(step).collect();
        assert!(
            distinct.len() > 50,
            "screenshot looks blank ({} colours)",
            distinct.len()
        );
        let dom = headless(
            &browser,
            &dir.join("profile2"),
            &["--dump-dom".into()],
            &page,
        );
        let text = String::from_utf8_lossy(&dom.stdout);
        assert!(
            text.contains(&pct(accuracy)),
            "rendered page lacks the accuracy {}",
            pct(accuracy)
        );
        assert!(text.contains("<svg"), "rendered page lacks the curves");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

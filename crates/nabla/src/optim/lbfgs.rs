//! L-BFGS with the semantics and defaults of `torch.optim.LBFGS`, optionally with its
//! strong-Wolfe line search.

use super::{check_non_negative, check_positive, Core, Objective, Optimizer, OptimizerState};
use crate::autograd::Var;
use crate::tensor::Element;
use crate::{Error, Result};

/// How L-BFGS chooses the step length along its search direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineSearch {
    /// A fixed step `lr` (the first iteration of a run: `lr·min(1, 1/‖g‖₁)`), PyTorch's
    /// default.
    #[default]
    None,
    /// The strong-Wolfe line search (`line_search_fn="strong_wolfe"`): bracketing, then
    /// cubic interpolation (c₁ = 1e-4, c₂ = 0.9), within the step's evaluation budget.
    StrongWolfe,
}

impl LineSearch {
    /// The name PyTorch and nabla's command line use (`"none"`, `"strong_wolfe"`).
    pub fn name(&self) -> &'static str {
        match self {
            LineSearch::None => "none",
            LineSearch::StrongWolfe => "strong_wolfe",
        }
    }

    /// Parse [`LineSearch::name`].
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(LineSearch::None),
            "strong_wolfe" => Ok(LineSearch::StrongWolfe),
            other => Err(Error::param(
                "line search",
                format!("{other:?}: expected none or strong_wolfe"),
            )),
        }
    }
}

/// Settings of [`Lbfgs`]; `Default` gives PyTorch's defaults: `lr = 1`, `max_iter = 20`,
/// `max_eval = None` (that is `max_iter·5/4`, 25), `tolerance_grad = 1e-7`,
/// `tolerance_change = 1e-9`, `history_size = 100`, no line search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsConfig {
    /// Step length along the search direction (the line search's first trial), positive.
    pub lr: f64,
    /// Iterations per optimiser step, at least 1.
    pub max_iter: usize,
    /// Evaluations of the objective per step; `None`: `max_iter·5/4` (integer division).
    pub max_eval: Option<usize>,
    /// Stop the step when the largest gradient component is at most this (≥ 0).
    pub tolerance_grad: f64,
    /// Stop the step when the loss or the largest parameter change moves by less (≥ 0).
    pub tolerance_change: f64,
    /// Curvature pairs kept, at least 1.
    pub history_size: usize,
    /// The step-length rule.
    pub line_search: LineSearch,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            line_search: LineSearch::None,
        }
    }
}

impl LbfgsConfig {
    /// The evaluation budget per step: `max_eval`, or `max_iter·5/4` when it is `None`.
    pub fn max_evaluations(&self) -> usize {
        self.max_eval.unwrap_or(self.max_iter * 5 / 4)
    }

    /// Check every setting.
    pub fn validate(&self) -> Result<()> {
        check_positive("learning rate", self.lr)?;
        if self.max_iter == 0 {
            return Err(Error::param("max_iter", "must be at least 1"));
        }
        if self.max_evaluations() == 0 {
            return Err(Error::param("max_eval", "must be at least 1"));
        }
        if self.history_size == 0 {
            return Err(Error::param("history size", "must be at least 1"));
        }
        check_non_negative("tolerance_grad", self.tolerance_grad)?;
        check_non_negative("tolerance_change", self.tolerance_change)
    }
}

/// The curvature pairs (y = Δgradient, s = Δparameters) and ρ = 1/(yᵀs), oldest first, in a
/// ring of `history_size` preallocated slots.
struct History<E: Element> {
    dirs: Vec<Vec<E>>,
    steps: Vec<Vec<E>>,
    ro: Vec<E>,
    start: usize,
    len: usize,
}

impl<E: Element> History<E> {
    fn new(capacity: usize, numel: usize) -> Self {
        History {
            dirs: vec![vec![E::ZERO; numel]; capacity],
            steps: vec![vec![E::ZERO; numel]; capacity],
            ro: vec![E::ZERO; capacity],
            start: 0,
            len: 0,
        }
    }

    /// The slot of the `i`-th oldest pair.
    fn slot(&self, i: usize) -> usize {
        (self.start + i) % self.dirs.len()
    }

    /// Append a pair, dropping the oldest when full; `y` and `s` are swapped into the ring
    /// (they come back holding the dropped slot's old values).
    fn push(&mut self, y: &mut Vec<E>, s: &mut Vec<E>, ro: E) {
        let slot = if self.len == self.dirs.len() {
            let oldest = self.start;
            self.start = (self.start + 1) % self.dirs.len();
            oldest
        } else {
            self.len += 1;
            self.slot(self.len - 1)
        };
        std::mem::swap(&mut self.dirs[slot], y);
        std::mem::swap(&mut self.steps[slot], s);
        self.ro[slot] = ro;
    }
}

/// Buffers of the strong-Wolfe line search.
struct SearchBuffers<E: Element> {
    /// The parameters at the start of the search (each trial is evaluated from them).
    x_init: Vec<E>,
    g_new: Vec<E>,
    g_prev: Vec<E>,
    bracket_g: [Vec<E>; 2],
}

/// Everything sized by the number of parameters, allocated on the first step.
struct Buffers<E: Element> {
    flat_grad: Vec<E>,
    prev_flat_grad: Vec<E>,
    d: Vec<E>,
    q: Vec<E>,
    y_new: Vec<E>,
    s_new: Vec<E>,
    /// Parameters at the start of the step, restored if the objective fails.
    start: Vec<E>,
    al: Vec<E>,
    history: History<E>,
    search: Option<SearchBuffers<E>>,
}

/// L-BFGS (Nocedal 1980; Liu & Nocedal 1989) with `torch.optim.LBFGS`'s semantics: one
/// [`Optimizer::step_with_objective`] runs up to `max_iter` iterations, each computing a
/// quasi-Newton direction from the last `history_size` curvature pairs (the two-loop
/// recursion, initial Hessian `yᵀs/yᵀy`) and moving along it, re-evaluating the objective on
/// the same batch. Its history and last direction carry over from step to step, so with the
/// batch at the whole training set it is the full-batch method.
///
/// Per iteration, with gradient g over all parameters flattened in order:
///
/// ```text
/// first iteration of a run: d ← −g,  t ← lr·min(1, 1/‖g‖₁)
/// later:  y ← g − g₋,  s ← t·d;  if yᵀs > 1e-10 keep (y, s, 1/yᵀs) and H ← yᵀs/yᵀy
///         d ← −H̃g (two-loop recursion),  t ← lr
/// stop if gᵀd > −tolerance_change; else θ ← θ + t·d (t from the line search, if any)
/// ```
///
/// and the step ends after `max_iter` iterations, `max_eval` evaluations, when
/// `max|g| ≤ tolerance_grad`, `max|t·d| ≤ tolerance_change` or the loss changed by less than
/// `tolerance_change`. Arithmetic on vectors is in the element type `E`, dot products are
/// accumulated in `f64`, step lengths and losses are `f64` (as PyTorch's Python floats).
///
/// Every buffer, the history's `2·history_size` vectors included, is allocated on the first
/// step; later steps allocate nothing. If the objective fails, the parameters are put back to
/// their values at the start of the step and the error is returned.
///
/// Generic over the element type: [`Optimizer`] (and so the trainer and checkpoints) is
/// implemented for `f32`; `Lbfgs<f64>` offers the same [`Lbfgs::step_with_objective`].
pub struct Lbfgs<E: Element = f32> {
    core: Core<E>,
    cfg: LbfgsConfig,
    numel: usize,
    buffers: Option<Buffers<E>>,
    h_diag: E,
    t: f64,
    prev_loss: f64,
    /// Iterations over the whole run (PyTorch's `state["n_iter"]`).
    n_iter: u64,
    /// Objective evaluations over the whole run (PyTorch's `state["func_evals"]`).
    func_evals: u64,
}

/// Σ aᵢbᵢ, accumulated in f64.
fn dot<E: Element>(a: &[E], b: &[E]) -> E {
    E::from_f64(a.iter().zip(b).map(|(x, y)| x.to_f64() * y.to_f64()).sum())
}

/// max |aᵢ|.
fn max_abs<E: Element>(a: &[E]) -> f64 {
    a.iter().fold(0.0f64, |m, x| {
        let v = x.abs().to_f64();
        if v > m {
            v
        } else {
            m
        }
    })
}

/// `a ← a + alpha·b` (PyTorch's `add_(b, alpha=alpha)`).
fn axpy<E: Element>(a: &mut [E], alpha: E, b: &[E]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x += alpha * y;
    }
}

/// The minimiser of the cubic through (x₁, f₁, f′₁) and (x₂, f₂, f′₂), clamped to `bounds`
/// (default: the interval between x₁ and x₂); the interval's midpoint if the cubic has none.
/// Python's `min`/`max` semantics (a NaN propagates).
fn cubic_interpolate(
    (x1, f1, g1): (f64, f64, f64),
    (x2, f2, g2): (f64, f64, f64),
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        let above = if lo > min_pos { lo } else { min_pos };
        if hi < above {
            hi
        } else {
            above
        }
    } else {
        (lo + hi) / 2.0
    }
}

/// Sufficient decrease and curvature constants of the strong-Wolfe conditions, and the
/// bracket width (times max|d|) below which the search stops: PyTorch's `_strong_wolfe`
/// defaults (its tolerance is fixed, not the optimiser's `tolerance_change`).
const WOLFE_C1: f64 = 1e-4;
const WOLFE_C2: f64 = 0.9;
const WOLFE_TOLERANCE: f64 = 1e-9;
/// Curvature pairs with yᵀs at or below this are not kept (PyTorch's constant).
const MIN_CURVATURE: f64 = 1e-10;

impl<E: Element> Lbfgs<E> {
    /// An L-BFGS optimiser over `params` (leaves). Errors with [`Error::Param`] on an empty
    /// list, a non-leaf, or a setting out of its domain.
    pub fn new(params: Vec<Var<E>>, cfg: LbfgsConfig) -> Result<Self> {
        cfg.validate()?;
        let numel = params.iter().map(|p| p.value().len()).sum();
        Ok(Lbfgs {
            core: Core::new("lbfgs", params, cfg.lr, vec![])?,
            cfg,
            numel,
            buffers: None,
            h_diag: E::ONE,
            t: 0.0,
            prev_loss: 0.0,
            n_iter: 0,
            func_evals: 0,
        })
    }

    /// The settings (with the learning rate the optimiser was built with).
    pub fn config(&self) -> &LbfgsConfig {
        &self.cfg
    }

    /// Objective evaluations so far, over the whole run.
    pub fn evaluations(&self) -> u64 {
        self.func_evals
    }

    /// Iterations so far, over the whole run.
    pub fn iterations(&self) -> u64 {
        self.n_iter
    }

    fn allocate(&mut self) {
        if self.buffers.is_some() {
            return;
        }
        let n = self.numel;
        let zeros = || vec![E::ZERO; n];
        self.buffers = Some(Buffers {
            flat_grad: zeros(),
            prev_flat_grad: zeros(),
            d: zeros(),
            q: zeros(),
            y_new: zeros(),
            s_new: zeros(),
            start: zeros(),
            al: vec![E::ZERO; self.cfg.history_size],
            history: History::new(self.cfg.history_size, n),
            search: (self.cfg.line_search == LineSearch::StrongWolfe).then(|| SearchBuffers {
                x_init: zeros(),
                g_new: zeros(),
                g_prev: zeros(),
                bracket_g: [zeros(), zeros()],
            }),
        });
    }

    /// One step: up to `max_iter` L-BFGS iterations on `objective`, whose value at the
    /// current parameters is `loss` with the gradients already in the slots (see the type's
    /// documentation).
    pub fn step_with_objective(&mut self, loss: f64, objective: &mut dyn Objective) -> Result<()> {
        check_positive("learning rate", self.core.lr())?;
        self.core.check_gradient_shapes()?;
        self.allocate();
        let mut bufs = self.buffers.take().expect("allocated just above");
        copy_params(self.core.params(), &mut bufs.start);
        let result = self.iterate(&mut bufs, loss, objective);
        if result.is_err() {
            set_params(self.core.params(), &bufs.start);
        } else {
            self.core.count_step();
        }
        self.buffers = Some(bufs);
        result
    }

    fn gather(&self, out: &mut [E]) -> Result<()> {
        self.core.check_gradient_shapes()?;
        let mut offset = 0;
        for p in self.core.params() {
            let n = p.value().len();
            match p.grad_ref().as_ref() {
                Some(g) => out[offset..offset + n].copy_from_slice(g.data()),
                None => out[offset..offset + n].fill(E::ZERO),
            }
            offset += n;
        }
        Ok(())
    }

    fn iterate(
        &mut self,
        b: &mut Buffers<E>,
        loss: f64,
        objective: &mut dyn Objective,
    ) -> Result<()> {
        let cfg = self.cfg;
        let lr = self.core.lr();
        let max_eval = cfg.max_evaluations();
        let mut loss = loss;
        self.func_evals += 1;
        let mut current_evals = 1usize;
        self.gather(&mut b.flat_grad)?;
        if max_abs(&b.flat_grad) <= cfg.tolerance_grad {
            return Ok(());
        }
        let mut n_iter = 0usize;
        while n_iter < cfg.max_iter {
            n_iter += 1;
            self.n_iter += 1;
            if self.n_iter == 1 {
                for (d, &g) in b.d.iter_mut().zip(&b.flat_grad) {
                    *d = -g;
                }
                b.history.start = 0;
                b.history.len = 0;
                self.h_diag = E::ONE;
            } else {
                self.direction(b);
            }
            b.prev_flat_grad.copy_from_slice(&b.flat_grad);
            self.prev_loss = loss;
            self.t = if self.n_iter == 1 {
                let abs_sum = E::from_f64(b.flat_grad.iter().map(|g| g.abs().to_f64()).sum());
                let inverse = E::ONE / abs_sum;
                if inverse.to_f64() < 1.0 {
                    (inverse * E::from_f64(lr)).to_f64()
                } else {
                    lr
                }
            } else {
                lr
            };
            let gtd = dot(&b.flat_grad, &b.d).to_f64();
            if gtd > -cfg.tolerance_change {
                break;
            }
            let mut evals = 0;
            let mut optimal = false;
            match cfg.line_search {
                LineSearch::StrongWolfe => {
                    let search = b.search.as_mut().expect("allocated for strong_wolfe");
                    copy_params(self.core.params(), &mut search.x_init);
                    let budget = max_eval.saturating_sub(current_evals);
                    let (f, t, n) = self.strong_wolfe(b, objective, loss, gtd, budget)?;
                    loss = f;
                    self.t = t;
                    evals = n;
                    add_to_params(self.core.params(), E::from_f64(self.t), &b.d);
                    optimal = max_abs(&b.flat_grad) <= cfg.tolerance_grad;
                }
                LineSearch::None => {
                    add_to_params(self.core.params(), E::from_f64(self.t), &b.d);
                    if n_iter != cfg.max_iter {
                        loss = objective.evaluate()?;
                        self.gather(&mut b.flat_grad)?;
                        optimal = max_abs(&b.flat_grad) <= cfg.tolerance_grad;
                        evals = 1;
                    }
                }
            }
            current_evals += evals;
            self.func_evals += evals as u64;
            if n_iter == cfg.max_iter || current_evals >= max_eval || optimal {
                break;
            }
            let t = E::from_f64(self.t);
            let largest_change = b.d.iter().fold(0.0f64, |m, &d| {
                let v = (d * t).abs().to_f64();
                if v > m {
                    v
                } else {
                    m
                }
            });
            if largest_change <= cfg.tolerance_change {
                break;
            }
            if (loss - self.prev_loss).abs() < cfg.tolerance_change {
                break;
            }
        }
        Ok(())
    }

    /// Update the history with the last move and compute d = −H̃g by the two-loop recursion.
    fn direction(&mut self, b: &mut Buffers<E>) {
        let t = E::from_f64(self.t);
        for (((y, s), (&g, &g_prev)), &d) in b
            .y_new
            .iter_mut()
            .zip(b.s_new.iter_mut())
            .zip(b.flat_grad.iter().zip(&b.prev_flat_grad))
            .zip(&b.d)
        {
            *y = g - g_prev;
            *s = d * t;
        }
        let ys = dot(&b.y_new, &b.s_new);
        if ys.to_f64() > MIN_CURVATURE {
            let yy = dot(&b.y_new, &b.y_new);
            b.history.push(&mut b.y_new, &mut b.s_new, E::ONE / ys);
            self.h_diag = ys / yy;
        }
        let h = &b.history;
        for (q, &g) in b.q.iter_mut().zip(&b.flat_grad) {
            *q = -g;
        }
        for i in (0..h.len).rev() {
            let slot = h.slot(i);
            let al = dot(&h.steps[slot], &b.q) * h.ro[slot];
            b.al[i] = al;
            axpy(&mut b.q, -al, &h.dirs[slot]);
        }
        for (d, &q) in b.d.iter_mut().zip(&b.q) {
            *d = q * self.h_diag;
        }
        for i in 0..h.len {
            let slot = h.slot(i);
            let be = dot(&h.dirs[slot], &b.d) * h.ro[slot];
            axpy(&mut b.d, b.al[i] - be, &h.steps[slot]);
        }
    }

    /// Evaluate the objective at `x_init + t·d`, its gradient into `g_new`, and put the
    /// parameters back to `x_init`.
    fn evaluate_at(
        &self,
        b: &mut Buffers<E>,
        objective: &mut dyn Objective,
        t: f64,
    ) -> Result<(f64, f64)> {
        let params = self.core.params();
        add_to_params(params, E::from_f64(t), &b.d);
        let loss = objective.evaluate()?;
        let search = b.search.as_mut().expect("allocated for strong_wolfe");
        self.gather(&mut search.g_new)?;
        set_params(params, &search.x_init);
        Ok((loss, dot(&search.g_new, &b.d).to_f64()))
    }

    /// The strong-Wolfe line search from the parameters in `x_init` along `b.d`, starting at
    /// step `t` (PyTorch's `_strong_wolfe`). Returns the loss, the step and the evaluations
    /// made; the gradient at the chosen step lands in `b.flat_grad`.
    fn strong_wolfe(
        &self,
        b: &mut Buffers<E>,
        objective: &mut dyn Objective,
        f: f64,
        gtd: f64,
        max_ls: usize,
    ) -> Result<(f64, f64, usize)> {
        let d_norm = max_abs(&b.d);
        let mut t = self.t;
        let (mut f_new, mut gtd_new) = self.evaluate_at(b, objective, t)?;
        let mut evals = 1;
        let (mut t_prev, mut f_prev, mut gtd_prev) = (0.0, f, gtd);
        {
            let s = b.search.as_mut().expect("allocated");
            s.g_prev.copy_from_slice(&b.flat_grad);
        }
        let mut done = false;
        let mut ls_iter = 0;
        let mut bracket = [0.0f64; 2];
        let mut bracket_f = [0.0f64; 2];
        let mut bracket_gtd = [0.0f64; 2];
        let mut bracketed = false;
        // Phase 1: grow the step until an interval brackets a point that satisfies the
        // conditions (or one already does).
        while ls_iter < max_ls {
            if f_new > f + WOLFE_C1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
                bracketed = true;
            } else if gtd_new.abs() <= -WOLFE_C2 * gtd {
                let s = b.search.as_mut().expect("allocated");
                bracket[0] = t;
                bracket_f[0] = f_new;
                s.bracket_g[0].copy_from_slice(&s.g_new);
                done = true;
                break;
            } else if gtd_new >= 0.0 {
                bracketed = true;
            }
            if bracketed {
                let s = b.search.as_mut().expect("allocated");
                bracket = [t_prev, t];
                bracket_f = [f_prev, f_new];
                bracket_gtd = [gtd_prev, gtd_new];
                let [g0, g1] = &mut s.bracket_g;
                g0.copy_from_slice(&s.g_prev);
                g1.copy_from_slice(&s.g_new);
                break;
            }
            let (min_step, max_step) = (t + 0.01 * (t - t_prev), t * 10.0);
            let tmp = t;
            t = cubic_interpolate(
                (t_prev, f_prev, gtd_prev),
                (t, f_new, gtd_new),
                Some((min_step, max_step)),
            );
            t_prev = tmp;
            f_prev = f_new;
            {
                let s = b.search.as_mut().expect("allocated");
                s.g_prev.copy_from_slice(&s.g_new);
            }
            gtd_prev = gtd_new;
            (f_new, gtd_new) = self.evaluate_at(b, objective, t)?;
            evals += 1;
            ls_iter += 1;
        }
        if ls_iter == max_ls {
            // Out of evaluations: choose between the start and the last trial.
            let s = b.search.as_mut().expect("allocated");
            bracket = [0.0, t];
            bracket_f = [f, f_new];
            let [g0, g1] = &mut s.bracket_g;
            g0.copy_from_slice(&b.flat_grad);
            g1.copy_from_slice(&s.g_new);
            bracketed = true;
        }
        // Phase 2: shrink the bracket by cubic interpolation (zoom).
        let last = if bracketed { 1 } else { 0 };
        let (mut low, mut high) = if bracket_f[0] <= bracket_f[last] {
            (0, 1)
        } else {
            (1, 0)
        };
        let mut insufficient_progress = false;
        while !done && ls_iter < max_ls {
            if (bracket[1] - bracket[0]).abs() * d_norm < WOLFE_TOLERANCE {
                break;
            }
            t = cubic_interpolate(
                (bracket[0], bracket_f[0], bracket_gtd[0]),
                (bracket[1], bracket_f[1], bracket_gtd[1]),
                None,
            );
            let (b_max, b_min) = if bracket[0] >= bracket[1] {
                (bracket[0], bracket[1])
            } else {
                (bracket[1], bracket[0])
            };
            let eps = 0.1 * (b_max - b_min);
            if (b_max - t).min(t - b_min) < eps {
                // Too close to an end: move inwards, at once if progress was already poor.
                if insufficient_progress || t >= b_max || t <= b_min {
                    t = if (t - b_max).abs() < (t - b_min).abs() {
                        b_max - eps
                    } else {
                        b_min + eps
                    };
                    insufficient_progress = false;
                } else {
                    insufficient_progress = true;
                }
            } else {
                insufficient_progress = false;
            }
            (f_new, gtd_new) = self.evaluate_at(b, objective, t)?;
            evals += 1;
            ls_iter += 1;
            let s = b.search.as_mut().expect("allocated");
            if f_new > f + WOLFE_C1 * t * gtd || f_new >= bracket_f[low] {
                bracket[high] = t;
                bracket_f[high] = f_new;
                s.bracket_g[high].copy_from_slice(&s.g_new);
                bracket_gtd[high] = gtd_new;
                (low, high) = if bracket_f[0] <= bracket_f[1] {
                    (0, 1)
                } else {
                    (1, 0)
                };
            } else {
                if gtd_new.abs() <= -WOLFE_C2 * gtd {
                    done = true;
                } else if gtd_new * (bracket[high] - bracket[low]) >= 0.0 {
                    // The old low end becomes the high end.
                    bracket[high] = bracket[low];
                    bracket_f[high] = bracket_f[low];
                    let [g0, g1] = &mut s.bracket_g;
                    if low == 0 {
                        g1.copy_from_slice(g0);
                    } else {
                        g0.copy_from_slice(g1);
                    }
                    bracket_gtd[high] = bracket_gtd[low];
                }
                bracket[low] = t;
                bracket_f[low] = f_new;
                s.bracket_g[low].copy_from_slice(&s.g_new);
                bracket_gtd[low] = gtd_new;
            }
        }
        let s = b.search.as_ref().expect("allocated");
        b.flat_grad.copy_from_slice(&s.bracket_g[low]);
        Ok((bracket_f[low], bracket[low], evals))
    }
}

/// Copy every parameter's values, in order, into `out`.
fn copy_params<E: Element>(params: &[Var<E>], out: &mut [E]) {
    let mut offset = 0;
    for p in params {
        let v = p.value();
        out[offset..offset + v.len()].copy_from_slice(v.data());
        offset += v.len();
    }
}

/// Set every parameter's values, in order, from `src`.
fn set_params<E: Element>(params: &[Var<E>], src: &[E]) {
    let mut offset = 0;
    for p in params {
        let mut v = p.value_mut();
        let n = v.len();
        v.data_mut().copy_from_slice(&src[offset..offset + n]);
        offset += n;
    }
}

/// θ ← θ + t·d over the flattened parameters.
fn add_to_params<E: Element>(params: &[Var<E>], t: E, d: &[E]) {
    let mut offset = 0;
    for p in params {
        let mut v = p.value_mut();
        let n = v.len();
        axpy(v.data_mut(), t, &d[offset..offset + n]);
        offset += n;
    }
}

/// Names of L-BFGS's buffers and scalars in an [`OptimizerState`].
const D: &str = "lbfgs.d";
const PREV_FLAT_GRAD: &str = "lbfgs.prev_flat_grad";
const H_DIAG: &str = "lbfgs.h_diag";
const RO: &str = "lbfgs.ro";
const HISTORY_Y: &str = "lbfgs.y.";
const HISTORY_S: &str = "lbfgs.s.";
const SCALARS: [&str; 4] = ["t", "prev_loss", "n_iter", "func_evals"];

impl Optimizer for Lbfgs<f32> {
    /// L-BFGS needs the objective: this errors; use [`Optimizer::step_with_objective`].
    fn step(&mut self) -> Result<()> {
        Err(Error::param(
            "lbfgs",
            "L-BFGS re-evaluates the loss within a step: call step_with_objective with the objective",
        ))
    }

    fn step_with_objective(&mut self, loss: f64, objective: &mut dyn Objective) -> Result<()> {
        Lbfgs::step_with_objective(self, loss, objective)
    }

    fn zero_grad(&mut self) {
        self.core.zero_grad();
    }

    fn learning_rate(&self) -> f64 {
        self.core.lr()
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.core.set_lr(lr);
    }

    /// The state: the direction, the previous gradient, H's scale, every curvature pair
    /// (oldest first, `lbfgs.y.<i>`, `lbfgs.s.<i>`, and `lbfgs.ro`), and the scalars `t`,
    /// `prev_loss`, `n_iter`, `func_evals`.
    fn state(&self) -> OptimizerState {
        let mut state = self.core.state();
        let steps = self.core.steps_taken();
        state.param_steps = vec![steps; state.shapes.len()];
        if let (Some(b), true) = (&self.buffers, self.n_iter > 0) {
            state.buffers.push((D.into(), b.d.clone()));
            state
                .buffers
                .push((PREV_FLAT_GRAD.into(), b.prev_flat_grad.clone()));
            state.buffers.push((H_DIAG.into(), vec![self.h_diag]));
            let h = &b.history;
            let ro = (0..h.len).map(|i| h.ro[h.slot(i)]).collect();
            state.buffers.push((RO.into(), ro));
            for i in 0..h.len {
                let slot = h.slot(i);
                state
                    .buffers
                    .push((format!("{HISTORY_Y}{i}"), h.dirs[slot].clone()));
                state
                    .buffers
                    .push((format!("{HISTORY_S}{i}"), h.steps[slot].clone()));
            }
        }
        let values = [
            self.t,
            self.prev_loss,
            self.n_iter as f64,
            self.func_evals as f64,
        ];
        state.scalars = SCALARS
            .iter()
            .zip(values)
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        state
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let bad = |msg: String| Error::param("optimizer state", msg);
        self.core.check_state_header(state)?;
        let mut scalars = [0.0f64; 4];
        for (k, name) in SCALARS.iter().enumerate() {
            let found: Vec<f64> = state
                .scalars
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .collect();
            match found.as_slice() {
                [v] if v.is_finite() => scalars[k] = *v,
                [v] => return Err(bad(format!("L-BFGS scalar {name:?} is {v}"))),
                [] => return Err(bad(format!("L-BFGS state has no scalar {name:?}"))),
                _ => return Err(bad(format!("L-BFGS scalar {name:?} appears twice"))),
            }
        }
        let [t, prev_loss, n_iter, func_evals] = scalars;
        for (name, v) in [("n_iter", n_iter), ("func_evals", func_evals)] {
            if v < 0.0 || v.fract() != 0.0 || v > 2f64.powi(53) {
                return Err(bad(format!("L-BFGS count {name:?} is {v}")));
            }
        }
        let find = |name: &str| -> Option<&Vec<f32>> {
            state
                .buffers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d)
        };
        let n = self.numel;
        let sized = |name: &str, len: usize| -> Result<&Vec<f32>> {
            let data =
                find(name).ok_or_else(|| bad(format!("L-BFGS state has no buffer {name:?}")))?;
            if data.len() != len {
                return Err(bad(format!(
                    "buffer {name:?} has {} elements, expected {len}",
                    data.len()
                )));
            }
            Ok(data)
        };
        let cap = self.cfg.history_size;
        let started = n_iter > 0.0;
        let pairs = if started {
            find(RO).map_or(0, |r| r.len())
        } else {
            0
        };
        if pairs > cap {
            return Err(bad(format!(
                "state holds {pairs} curvature pairs, the history size is {cap}"
            )));
        }
        let expected = if started { 4 + 2 * pairs } else { 0 };
        if state.buffers.len() != expected {
            return Err(bad(format!(
                "L-BFGS state has {} buffers, expected {expected} (after {n_iter} iterations, {pairs} curvature pairs)",
                state.buffers.len()
            )));
        }
        // Everything is checked before anything changes.
        let mut history = Vec::with_capacity(pairs);
        let mut fixed = None;
        if started {
            let d = sized(D, n)?;
            let prev = sized(PREV_FLAT_GRAD, n)?;
            let h_diag = sized(H_DIAG, 1)?[0];
            let ro = sized(RO, pairs)?;
            for (i, &ro) in ro.iter().enumerate() {
                let y = sized(&format!("{HISTORY_Y}{i}"), n)?;
                let s = sized(&format!("{HISTORY_S}{i}"), n)?;
                history.push((y, s, ro));
            }
            fixed = Some((d, prev, h_diag));
        }
        self.allocate();
        let b = self.buffers.as_mut().expect("allocated just above");
        b.history.start = 0;
        b.history.len = 0;
        if let Some((d, prev, h_diag)) = fixed {
            b.d.copy_from_slice(d);
            b.prev_flat_grad.copy_from_slice(prev);
            self.h_diag = h_diag;
            for (y, s, ro) in history {
                b.y_new.copy_from_slice(y);
                b.s_new.copy_from_slice(s);
                b.history.push(&mut b.y_new, &mut b.s_new, ro);
            }
        } else {
            self.h_diag = 1.0;
        }
        self.t = t;
        self.prev_loss = prev_loss;
        self.n_iter = n_iter as u64;
        self.func_evals = func_evals as u64;
        self.core.restore_counts(state.step, state.lr);
        Ok(())
    }

    fn name(&self) -> &'static str {
        "lbfgs"
    }
}

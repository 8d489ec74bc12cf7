//! The `nabla` command-line tool: a thin dispatcher over the subcommands in [`commands`].

mod commands;
mod distributed;
mod figures;
mod pipeline;
mod report;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use nabla::tensor::gemm::KernelPath;

use commands::{
    convert, critical, eval, explain, export, grad, gradcheck, graph, hessian, inspect, integrate,
    minimize, plot, predict, taylor, train,
};

/// Calculus for neural networks from the command line.
#[derive(Parser, Debug)]
#[command(
    name = "nabla",
    version,
    about = "Calculus for neural networks: symbolic derivatives, gradient descent, critical points; \
train, evaluate, inspect and gradient-check feedforward networks on CSV, FANN, MNIST and built-in data",
    long_about = "Calculus for neural networks: symbolic derivatives (grad), gradient descent (minimize), \
critical points in one or several variables (critical), Hessians (hessian), integrals (integrate), Taylor polynomials (taylor); and feedforward networks: train, eval, predict, inspect, export (ONNX), gradcheck; convert between CSV and FANN files. \
`nabla train` alone trains a digit classifier on built-in data and reports its test accuracy.\n\n\
Expressions use numbers, variables, + - * / ^ (^ binds tightest, right-associative; -x^2 is -(x^2)), \
parentheses, the constants pi and e, the functions sin cos tan exp log ln sqrt abs tanh sigmoid \
relu softplus step sign sinh cosh asin acos atan asinh acosh atanh sec csc cot log10 log2 \
(log = ln = natural logarithm), and min(u, v), max(u, v).\n\n\
Environment: NABLA_KERNEL=avx512|avx2|generic forces the f32 matrix-product kernels (default: the best this CPU runs; \
`nabla --version` names the one in use); RAYON_NUM_THREADS sets the default thread count.\n\n\
Exit codes: 0 success, 1 failure on valid input (divergence, bad data or model files), \
2 malformed expression or flags, 130 training interrupted (checkpoint written)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Grad(grad::Args),
    Minimize(minimize::Args),
    Critical(critical::Args),
    Hessian(hessian::Args),
    Integrate(integrate::Args),
    Taylor(taylor::Args),
    Train(Box<train::Args>),
    Eval(eval::Args),
    Predict(predict::Args),
    Inspect(inspect::Args),
    Export(export::Args),
    Gradcheck(Box<gradcheck::Args>),
    Plot(plot::Args),
    Explain(explain::Args),
    Graph(graph::Args),
    Convert(convert::Args),
}

/// A closed stdout (`nabla … | head`) ends the command quietly, as it does other Unix tools:
/// Rust ignores SIGPIPE, so a write to a closed pipe would fail and `println!` would panic;
/// with the default action restored the process just ends. Every command writes its files
/// before the text that reports them, so nothing is lost.
fn end_quietly_on_a_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `nabla --version`: the version, and the f32 kernels this process runs (`NABLA_KERNEL`
/// forces a path; this CPU's best is named when it differs).
fn version_line() -> String {
    let best = KernelPath::best();
    let path = match KernelPath::from_env() {
        Ok(p) if p == best => format!("{} kernels", p.name()),
        Ok(p) => format!(
            "{} kernels (forced by NABLA_KERNEL; best here {})",
            p.name(),
            best.name()
        ),
        Err(_) => format!("{} kernels (NABLA_KERNEL not usable here)", best.name()),
    };
    format!("{}, {path}", env!("CARGO_PKG_VERSION"))
}

fn main() {
    end_quietly_on_a_closed_stdout();
    let matches = Cli::command().version(version_line()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // A kernel path this CPU cannot run (or a misspelt one) is refused before any work starts.
    if let Err(msg) = KernelPath::from_env() {
        distributed::error_line(&msg.to_string());
        std::process::exit(2);
    }
    // `train` under mpirun joins the MPI job; every other command runs alone.
    let world = match &cli.command {
        Command::Train(_) => distributed::World::join().unwrap_or_else(|err| {
            distributed::error_line(&err.message);
            std::process::exit(err.code)
        }),
        _ => distributed::World::single(),
    };
    let outcome = match cli.command {
        Command::Grad(args) => grad::run(args),
        Command::Minimize(args) => minimize::run(args),
        Command::Critical(args) => critical::run(args),
        Command::Hessian(args) => hessian::run(args),
        Command::Integrate(args) => integrate::run(args),
        Command::Taylor(args) => taylor::run(args),
        Command::Train(args) => train::run(*args, world.collective()),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Gradcheck(args) => gradcheck::run(*args),
        Command::Plot(args) => plot::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Export(args) => export::run(args),
    };
    world.finish(outcome)
}

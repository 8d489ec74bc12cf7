use super::*;

fn p(s: &str) -> Expr {
    parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn scratch() {
    for s in [
        "x^2*y + x*y*z + z^2",
        "x*(x-1)*(x-2)*(x-3)",
        "sin(x)*exp(x*y)",
        "x^y",
        "sqrt(x)",
        "ln(x)",
        "x/(x+1)",
        "sigmoid(2*x)",
        "tan(x)",
        "(x+1)^3",
        "-x^2",
        "2^x",
        "e^x",
        "abs(x)",
        "relu(x)",
    ] {
        let f = p(s);
        println!("{s} => {f} ; dx = {}", derivative(&f, "x"));
    }
    let (_, steps) = diff_with_steps(&p("x*(x-1)*(x-2)*(x-3)"), "x");
    for s in steps {
        println!("{s}");
    }
}

//! The `nabla` command-line tool.

fn main() {
    println!("nabla: commands are being built");
}

//! `cargo xtask`: the course's command line.
mod progress;
fn main() {}

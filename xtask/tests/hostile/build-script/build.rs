fn main() {
    panic!("a build script ran on the grading machine");
}

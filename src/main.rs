//! lpcheck: safety analyzer and validator for Linux kernel live patches.
fn main() {}

//! What lpcheck's tests share when something they need is absent: one way to skip, with the
//! reason on stderr, that fails instead under `LPCHECK_VM_REQUIRED=1` (set by `.ci/run`) when
//! CI provides the resource.

/// The variable that makes missing CI resources fail the test instead of skipping it.
pub const REQUIRED_VAR: &str = "LPCHECK_VM_REQUIRED";

/// Whether this run must have every resource CI provides (`LPCHECK_VM_REQUIRED=1`).
pub fn required() -> bool {
    std::env::var_os(REQUIRED_VAR).is_some_and(|value| value == "1")
}

/// Skips `test` because a resource that CI provides (QEMU, Debian's kernel packages, tmux,
/// gcc-12, `../shared/corpus`) is absent: prints why, or panics under `LPCHECK_VM_REQUIRED=1`.
pub fn skip(test: &str, reason: &str) {
    assert!(
        !required(),
        "{REQUIRED_VAR}=1 but {test} cannot run: {reason}"
    );
    eprintln!("SKIPPED {test}: {reason}");
}

/// Skips `test` because of something CI does not provide either (a debug vmlinux only the
/// benchmark script downloads, a host kernel without livepatch, root): prints why, always.
pub fn skip_optional(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason} (not required in CI)");
}

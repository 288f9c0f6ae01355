//! Installed patches: modules kept under `STATE/patches/REL/NAME.ko` with a manifest, so that
//! `lpcheck apply --installed` (run by `lpcheck.service` at boot) applies them again to every
//! boot of that kernel release, each through the full apply procedure.
//!
//! [`store`] writes and removes them atomically, [`manifest`] is the per-release record,
//! [`listing`] compares what is installed with what is loaded, and [`session`] holds the
//! workflows the commands run.

pub mod listing;
pub mod manifest;
pub mod session;
pub mod store;

use std::path::{Path, PathBuf};

/// The state directory unless `--state-dir` or [`STATE_ENV_VAR`] says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/lpcheck";
/// The environment variable that overrides [`DEFAULT_STATE_DIR`].
pub const STATE_ENV_VAR: &str = "LPCHECK_STATE_DIR";

/// The state directory: the option, else the environment variable, else the default.
pub fn state_dir(option: Option<&Path>) -> PathBuf {
    option
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os(STATE_ENV_VAR)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

/// `STATE/patches/REL`: where the patches of one release are.
pub fn release_dir(state: &Path, release: &str) -> PathBuf {
    state.join("patches").join(release)
}

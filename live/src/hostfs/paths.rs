//! Where the host's kernel interfaces are: one type for every reader and engine, built from a
//! root directory so tests point it at a temporary tree shaped like the host.

use std::path::{Path, PathBuf};

/// The host's kernel interfaces.
#[derive(Debug, Clone)]
pub struct HostPaths {
    /// procfs (`/proc`).
    pub proc: PathBuf,
    /// sysfs (`/sys`).
    pub sys: PathBuf,
    /// debugfs (`/sys/kernel/debug`): `kprobes/list`.
    pub debugfs: PathBuf,
    /// Where tracefs may be mounted, in order: its own mount, then debugfs's `tracing`.
    pub tracefs: Vec<PathBuf>,
    /// The livepatch sysfs tree (`/sys/kernel/livepatch`).
    pub livepatch: PathBuf,
    /// The loaded modules (`/proc/modules`).
    pub modules: PathBuf,
    /// The kernel log device (`/dev/kmsg`).
    pub kmsg: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        Self::under(Path::new("/"))
    }
}

impl HostPaths {
    /// The interfaces of a host whose root directory is `root`.
    pub fn under(root: &Path) -> Self {
        Self {
            proc: root.join("proc"),
            sys: root.join("sys"),
            debugfs: root.join("sys/kernel/debug"),
            tracefs: vec![
                root.join("sys/kernel/tracing"),
                root.join("sys/kernel/debug/tracing"),
            ],
            livepatch: root.join("sys/kernel/livepatch"),
            modules: root.join("proc/modules"),
            kmsg: root.join("dev/kmsg"),
        }
    }

    /// debugfs `kprobes/list`.
    pub fn kprobes_list(&self) -> PathBuf {
        self.debugfs.join("kprobes/list")
    }

    /// Where `enabled_functions` may be, in the order of [`Self::tracefs`].
    pub fn enabled_functions(&self) -> Vec<PathBuf> {
        self.tracefs
            .iter()
            .map(|root| root.join("enabled_functions"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_hosts_own_layout() {
        let paths = HostPaths::default();
        assert_eq!(paths.livepatch, Path::new("/sys/kernel/livepatch"));
        assert_eq!(paths.modules, Path::new("/proc/modules"));
        assert_eq!(paths.kmsg, Path::new("/dev/kmsg"));
        assert_eq!(
            paths.kprobes_list(),
            Path::new("/sys/kernel/debug/kprobes/list")
        );
        assert_eq!(
            paths.enabled_functions(),
            [
                Path::new("/sys/kernel/tracing/enabled_functions"),
                Path::new("/sys/kernel/debug/tracing/enabled_functions"),
            ]
        );
        let under = HostPaths::under(Path::new("/tmp/t"));
        assert_eq!(under.proc, Path::new("/tmp/t/proc"));
    }
}

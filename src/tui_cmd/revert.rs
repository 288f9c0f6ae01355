//! What the revert key does once the admin confirmed it. The TUI only asks for the reverse
//! transition (`enabled` = 0) and then follows it like any other; the full revert of `lpcheck
//! revert` (wait, timeout, module removal, journal) can take its place through [`Reverter`].

use crate::live::livepatch::LivepatchSysfs;

/// Starts the revert of a patch.
pub trait Reverter {
    /// Starts reverting `patch`; returns what was done, for the log.
    fn revert(&mut self, patch: &str) -> anyhow::Result<String>;
}

/// Disables the patch through its sysfs `enabled` attribute.
#[derive(Debug, Clone)]
pub struct SysfsReverter {
    sysfs: LivepatchSysfs,
}

impl SysfsReverter {
    /// A reverter writing under `sysfs`.
    pub fn new(sysfs: LivepatchSysfs) -> Self {
        Self { sysfs }
    }
}

impl Reverter for SysfsReverter {
    fn revert(&mut self, patch: &str) -> anyhow::Result<String> {
        self.sysfs.set_enabled(patch, false)?;
        Ok(format!(
            "revert of {patch} started: wrote 0 to {}",
            self.sysfs.root().join(patch).join("enabled").display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::live::livepatch::fake::add_patch;

    #[test]
    fn writes_enabled_zero_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        add_patch(dir.path(), "lp", true, false, Some(1), &[]);
        let mut reverter = SysfsReverter::new(LivepatchSysfs::at(dir.path()));
        let message = reverter.revert("lp").unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("lp/enabled")).unwrap(),
            "0"
        );
        assert!(message.contains("lp/enabled"), "{message}");
        let error = reverter.revert("gone").unwrap_err().to_string();
        assert!(error.contains("gone/enabled"), "{error}");
    }
}

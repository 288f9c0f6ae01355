//! The kernels installed in a boot directory (`/boot`): `vmlinuz-REL` images and their initrds,
//! named the Debian/Ubuntu way (`initrd.img-REL`) or the RHEL/Fedora way (`initramfs-REL.img`).

use schemars::JsonSchema;
use std::path::{Path, PathBuf};

use super::release_order;
use crate::LiveError;

/// How a boot directory names a release's initrd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InitrdNaming {
    /// `initrd.img-REL` (Debian, Ubuntu: initramfs-tools).
    Debian,
    /// `initramfs-REL.img` (RHEL, Fedora: dracut).
    Dracut,
}

impl InitrdNaming {
    /// Every naming, in the order they are looked for.
    pub const ALL: [Self; 2] = [Self::Debian, Self::Dracut];

    /// The initrd file name of `release`.
    pub fn file_name(self, release: &str) -> String {
        match self {
            Self::Debian => format!("initrd.img-{release}"),
            Self::Dracut => format!("initramfs-{release}.img"),
        }
    }
}

/// One installed kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledKernel {
    /// Its release (`uname -r` once booted).
    pub release: String,
    /// The image (`vmlinuz-REL`).
    pub image: PathBuf,
    /// Its initrd, when the directory has one under either naming.
    pub initrd: Option<(PathBuf, InitrdNaming)>,
}

/// Whether a `vmlinuz-` suffix names a bootable release (not Fedora's rescue image, not a
/// backup copy).
fn is_release(suffix: &str) -> bool {
    suffix.starts_with(|c: char| c.is_ascii_digit())
        && !suffix.contains("-rescue-")
        && !suffix.ends_with(".old")
        && !suffix.ends_with(".bak")
}

/// The initrd of `release` in `boot`, when there is one.
pub fn find_initrd(boot: &Path, release: &str) -> Option<(PathBuf, InitrdNaming)> {
    InitrdNaming::ALL.into_iter().find_map(|naming| {
        let path = boot.join(naming.file_name(release));
        path.is_file().then_some((path, naming))
    })
}

/// The kernels in `boot`, newest release first (by version order, not file time).
pub fn installed_kernels(boot: &Path) -> Result<Vec<InstalledKernel>, LiveError> {
    let entries = std::fs::read_dir(boot).map_err(|e| LiveError::io(boot, e))?;
    let mut kernels = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LiveError::io(boot, e))?;
        let name = entry.file_name();
        let Some(release) = name.to_str().and_then(|n| n.strip_prefix("vmlinuz-")) else {
            continue;
        };
        let image = entry.path();
        if !is_release(release) || !image.is_file() {
            continue;
        }
        kernels.push(InstalledKernel {
            release: release.to_string(),
            initrd: find_initrd(boot, release),
            image,
        });
    }
    kernels.sort_by(|a, b| release_order::compare(&b.release, &a.release));
    Ok(kernels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), b"x").unwrap();
    }

    #[test]
    fn newest_by_version_not_by_time_with_debian_initrds() {
        let boot = tempfile::tempdir().unwrap();
        // Written newest first, so the file times say the opposite of the versions.
        for name in [
            "vmlinuz-6.1.0-57-amd64",
            "initrd.img-6.1.0-57-amd64",
            "vmlinuz-6.1.0-9-amd64",
            "initrd.img-6.1.0-9-amd64",
            "vmlinuz-6.1.0-10-amd64",
            "config-6.1.0-10-amd64",
            "vmlinuz.old",
        ] {
            touch(boot.path(), name);
        }
        let kernels = installed_kernels(boot.path()).unwrap();
        let releases: Vec<&str> = kernels.iter().map(|k| k.release.as_str()).collect();
        assert_eq!(
            releases,
            ["6.1.0-57-amd64", "6.1.0-10-amd64", "6.1.0-9-amd64"]
        );
        assert_eq!(
            kernels[0].initrd,
            Some((
                boot.path().join("initrd.img-6.1.0-57-amd64"),
                InitrdNaming::Debian
            ))
        );
        assert_eq!(kernels[1].initrd, None);
    }

    #[test]
    fn dracut_initrds_and_no_rescue_image() {
        let boot = tempfile::tempdir().unwrap();
        for name in [
            "vmlinuz-5.14.0-70.13.1.el9_0.x86_64",
            "initramfs-5.14.0-70.13.1.el9_0.x86_64.img",
            "vmlinuz-5.14.0-427.13.1.el9_4.x86_64",
            "initramfs-5.14.0-427.13.1.el9_4.x86_64.img",
            "initramfs-5.14.0-427.13.1.el9_4.x86_64kdump.img",
            "vmlinuz-0-rescue-0123456789abcdef",
        ] {
            touch(boot.path(), name);
        }
        let kernels = installed_kernels(boot.path()).unwrap();
        assert_eq!(kernels.len(), 2, "{kernels:?}");
        assert_eq!(kernels[0].release, "5.14.0-427.13.1.el9_4.x86_64");
        assert_eq!(
            kernels[0].initrd,
            Some((
                boot.path()
                    .join("initramfs-5.14.0-427.13.1.el9_4.x86_64.img"),
                InitrdNaming::Dracut
            ))
        );
    }

    #[test]
    fn a_missing_directory_names_itself() {
        let error = installed_kernels(Path::new("/nonexistent/boot")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/boot"), "{error}");
    }
}

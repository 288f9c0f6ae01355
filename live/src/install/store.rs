//! Writing the state directory so that a crash at any point leaves either the old state or the
//! new one: every file is written to a temporary name in its directory, synced, renamed over
//! the final name, and the directory synced.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::manifest::{self, Manifest, ManifestEntry, ManifestError};
use crate::LiveError;

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` atomically (write + fsync + rename + fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LiveError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| LiveError::io(dir, e))?;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&temp).map_err(|e| LiveError::io(&temp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| LiveError::io(&temp, e))?;
        std::fs::rename(&temp, path).map_err(|e| LiveError::io(path, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn sync_dir(dir: &Path) -> Result<(), LiveError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LiveError::io(dir, e))
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), LiveError> {
    let path = dir.join(manifest::FILE_NAME);
    let mut text = serde_json::to_string_pretty(manifest).map_err(|e| LiveError::Unexpected {
        path: path.clone(),
        contents: e.to_string(),
        expected: "a serializable manifest",
    })?;
    text.push('\n');
    write_atomic(&path, text.as_bytes())
}

/// What is installed.
#[derive(Debug, Clone)]
pub struct NewPatch<'a> {
    /// The kernel's module name.
    pub name: &'a str,
    /// The module file's contents.
    pub bytes: &'a [u8],
    /// Where it comes from.
    pub source: &'a Path,
    /// The check verdict.
    pub verdict: &'a str,
    /// Its replace flag.
    pub replace: Option<bool>,
}

/// Why installing or uninstalling failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state could not be read or written.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// The manifest cannot be trusted; nothing was changed.
    #[error("{0}; nothing changed (repair or remove it)")]
    Manifest(ManifestError),
    /// `uninstall` of a name that is not installed.
    #[error("{name} is not installed for {release} ({})", dir.display())]
    NotInstalled {
        /// The name.
        name: String,
        /// The release.
        release: String,
        /// The release directory.
        dir: PathBuf,
    },
}

/// Installs `patch` into the release directory `dir` (replacing an installed patch of the same
/// name at its place in the order): the module first, then the manifest, each atomically.
pub fn install(dir: &Path, patch: &NewPatch<'_>) -> Result<ManifestEntry, StoreError> {
    let mut manifest = manifest::read(dir).map_err(StoreError::Manifest)?;
    let entry = ManifestEntry {
        name: patch.name.to_string(),
        sha256: sha256_hex(patch.bytes),
        source: patch.source.display().to_string(),
        installed_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        verdict: patch.verdict.to_string(),
        replace: patch.replace,
    };
    write_atomic(&dir.join(entry.file_name()), patch.bytes)?;
    match manifest.patches.iter_mut().find(|e| e.name == entry.name) {
        Some(existing) => *existing = entry.clone(),
        None => manifest.patches.push(entry.clone()),
    }
    write_manifest(dir, &manifest)?;
    Ok(entry)
}

/// Removes `name` from the release directory `dir`: the manifest entry first (so a crash leaves
/// at worst a stray file, which is never applied), then the file.
pub fn uninstall(dir: &Path, release: &str, name: &str) -> Result<ManifestEntry, StoreError> {
    let mut manifest = manifest::read(dir).map_err(StoreError::Manifest)?;
    let index = manifest
        .patches
        .iter()
        .position(|e| e.name == name)
        .ok_or_else(|| StoreError::NotInstalled {
            name: name.to_string(),
            release: release.to_string(),
            dir: dir.to_path_buf(),
        })?;
    let entry = manifest.patches.remove(index);
    write_manifest(dir, &manifest)?;
    let file = dir.join(entry.file_name());
    match std::fs::remove_file(&file) {
        Ok(()) => sync_dir(dir)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LiveError::io(&file, e).into()),
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch<'a>(name: &'a str, bytes: &'a [u8]) -> NewPatch<'a> {
        NewPatch {
            name,
            bytes,
            source: Path::new("/src/x.ko"),
            verdict: "accept",
            replace: Some(false),
        }
    }

    #[test]
    fn install_keeps_order_and_reinstall_keeps_the_place() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("patches/6.1.0-57-amd64");
        install(&dir, &patch("lp_a", b"one")).unwrap();
        install(&dir, &patch("lp_b", b"two")).unwrap();
        install(&dir, &patch("lp_a", b"three")).unwrap();
        let manifest = manifest::read(&dir).unwrap();
        let names: Vec<&str> = manifest.patches.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["lp_a", "lp_b"]);
        assert_eq!(manifest.patches[0].sha256, sha256_hex(b"three"));
        assert_eq!(std::fs::read(dir.join("lp_a.ko")).unwrap(), b"three");
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(std::result::Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn uninstall_removes_entry_and_file_and_names_a_stranger() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("patches/r");
        install(&dir, &patch("lp_a", b"one")).unwrap();
        uninstall(&dir, "r", "lp_a").unwrap();
        assert!(manifest::read(&dir).unwrap().patches.is_empty());
        assert!(!dir.join("lp_a.ko").exists());
        let error = uninstall(&dir, "r", "lp_a").unwrap_err();
        assert!(
            error.to_string().contains("lp_a is not installed for r"),
            "{error}"
        );
    }

    #[test]
    fn a_corrupt_manifest_changes_nothing() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("patches/r");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(manifest::FILE_NAME), "{\"version\":1,\"pat").unwrap();
        let error = install(&dir, &patch("lp_a", b"one")).unwrap_err();
        assert!(error.to_string().contains("nothing changed"), "{error}");
        assert!(!dir.join("lp_a.ko").exists());
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

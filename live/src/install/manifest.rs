//! The manifest of one release's installed patches (`STATE/patches/REL/manifest.json`), in
//! install order, which is the order they are applied in.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::LiveError;

/// The manifest's file name in a release directory.
pub const FILE_NAME: &str = "manifest.json";
/// The manifest format version this lpcheck writes and reads.
pub const VERSION: u32 = 1;

/// One installed patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestEntry {
    /// The kernel's name of the module (`NAME.ko` in the release directory).
    pub name: String,
    /// SHA-256 of the installed file, hex.
    pub sha256: String,
    /// Where it was installed from.
    pub source: String,
    /// When (unix seconds).
    pub installed_at: u64,
    /// `lpcheck check`'s verdict at install time.
    pub verdict: String,
    /// The module's atomic-replace flag, when it could be read.
    pub replace: Option<bool>,
}

impl ManifestEntry {
    /// The installed file's name.
    pub fn file_name(&self) -> String {
        format!("{}.ko", self.name)
    }
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`VERSION`].
    pub version: u32,
    /// The patches, in install (and apply) order.
    pub patches: Vec<ManifestEntry>,
}

impl Default for Manifest {
    fn default() -> Self {
        Self {
            version: VERSION,
            patches: Vec::new(),
        }
    }
}

/// Why a manifest cannot be trusted: its release is skipped, never applied.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// It could not be read.
    #[error(transparent)]
    Io(#[from] LiveError),
    /// It is not a manifest (truncated, half-written, edited by hand).
    #[error("{}: corrupt manifest: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The manifest of `dir`; an empty one when the file does not exist.
pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(e) => return Err(LiveError::io(&path, e).into()),
    };
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| ManifestError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if manifest.version != VERSION {
        return Err(ManifestError::Corrupt {
            path,
            reason: format!(
                "version {} (this lpcheck reads {VERSION})",
                manifest.version
            ),
        });
    }
    let mut seen = std::collections::HashSet::new();
    for entry in &manifest.patches {
        let valid_name = !entry.name.is_empty()
            && entry
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name || !seen.insert(entry.name.as_str()) {
            return Err(ManifestError::Corrupt {
                path,
                reason: format!("bad or repeated patch name {:?}", entry.name),
            });
        }
        if entry.sha256.len() != 64 || !entry.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ManifestError::Corrupt {
                path,
                reason: format!(
                    "{}: sha256 {:?} is not 64 hex digits",
                    entry.name, entry.sha256
                ),
            });
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_empty_and_truncated_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), Manifest::default());
        std::fs::write(
            dir.path().join(FILE_NAME),
            "{\"version\":1,\"patches\":[{\"na",
        )
        .unwrap();
        let error = read(dir.path()).unwrap_err();
        assert!(error.to_string().contains("corrupt manifest"), "{error}");
    }

    #[test]
    fn path_like_names_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let text = serde_json::json!({"version": 1, "patches": [{
            "name": "../../etc/x", "sha256": "0".repeat(64), "source": "s",
            "installed_at": 0, "verdict": "accept", "replace": null}]});
        std::fs::write(dir.path().join(FILE_NAME), text.to_string()).unwrap();
        assert!(read(dir.path())
            .unwrap_err()
            .to_string()
            .contains("bad or repeated"));
    }
}

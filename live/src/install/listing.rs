//! What is installed against what is loaded: per release, each installed patch with the state
//! of its file (intact, missing, altered) and, for the running release, whether it is loaded;
//! loaded patches that are not installed; files and manifests that cannot be trusted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lpcheck_analyzer::report::envelope::{CommandName, Enveloped};
use lpcheck_analyzer::report::Finding;
use schemars::JsonSchema;
use serde::Serialize;

use super::manifest::{self, ManifestEntry};
use super::store::sha256_hex;
use crate::livepatch::LivepatchSysfs;

/// The state of an installed file against its manifest entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum FileState {
    /// Present, and its SHA-256 matches.
    Intact,
    /// The manifest names it but the file is gone.
    Missing,
    /// The file changed since it was installed: it is refused.
    HashMismatch {
        /// Its SHA-256 now.
        actual: String,
    },
    /// It could not be read.
    Unreadable {
        /// Why.
        error: String,
    },
}

/// One installed patch.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InstalledPatch {
    /// Its manifest entry.
    #[serde(flatten)]
    pub entry: ManifestEntry,
    /// The installed file.
    pub path: PathBuf,
    /// Its state.
    pub file: FileState,
    /// Loaded now (running release only; `null` for other releases or when unreadable).
    pub loaded: Option<bool>,
}

/// One release directory.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReleaseListing {
    /// The release.
    pub release: String,
    /// Its directory.
    pub dir: PathBuf,
    /// It is the running kernel's.
    pub running: bool,
    /// Why its manifest cannot be trusted (then no patch of it is listed or applied).
    pub manifest_error: Option<String>,
    /// The installed patches, in apply order.
    pub patches: Vec<InstalledPatch>,
    /// `.ko` files the manifest does not name (a half-finished install): never applied.
    pub stray_files: Vec<String>,
}

/// Everything `list` shows.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Listing {
    /// The state directory.
    pub state_dir: PathBuf,
    /// The running release, when known.
    pub running_release: Option<String>,
    /// The loaded livepatches (by name), as `status` shows them.
    pub loaded: Vec<String>,
    /// Why they could not be read.
    pub loaded_error: Option<String>,
    /// Releases with installed patches.
    pub releases: Vec<ReleaseListing>,
    /// Loaded patches that are not installed for the running release.
    pub loaded_not_installed: Vec<String>,
}

impl Listing {
    /// Whether some installed state cannot be trusted: a manifest that cannot be read, a file
    /// the manifest does not name, or an installed file missing, changed or unreadable.
    pub fn untrusted(&self) -> bool {
        self.releases.iter().any(|r| {
            r.manifest_error.is_some()
                || !r.stray_files.is_empty()
                || r.patches.iter().any(|p| p.file != FileState::Intact)
        })
    }

    /// The text form.
    pub fn render_human(&self) -> String {
        let listing = self;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "running release: {}",
            listing.running_release.as_deref().unwrap_or("unknown")
        );
        match &listing.loaded_error {
            Some(error) => {
                let _ = writeln!(out, "loaded patches: cannot read: {error}");
            }
            None if listing.loaded.is_empty() => {
                let _ = writeln!(out, "loaded patches: none");
            }
            None => {
                let _ = writeln!(out, "loaded patches: {}", listing.loaded.join(", "));
            }
        }
        if listing.releases.is_empty() {
            let _ = writeln!(
                out,
                "installed patches: none ({})",
                listing.state_dir.join("patches").display()
            );
        }
        for release in &listing.releases {
            let _ = writeln!(
                out,
                "installed for {}{}:",
                release.release,
                if release.running { " (running)" } else { "" }
            );
            if let Some(error) = &release.manifest_error {
                let _ = writeln!(out, "  SKIPPED: {error}");
            }
            for patch in &release.patches {
                let loaded = match patch.loaded {
                    Some(true) => "loaded+installed",
                    Some(false) => "installed, not loaded",
                    None => "installed",
                };
                let file = match &patch.file {
                    FileState::Intact => "file intact".to_string(),
                    FileState::Missing => "FILE MISSING: refused".to_string(),
                    FileState::HashMismatch { actual } => {
                        format!("HASH MISMATCH (now {actual}): refused")
                    }
                    FileState::Unreadable { error } => format!("UNREADABLE ({error}): refused"),
                };
                let _ = writeln!(
                    out,
                    "  {}: {loaded}; {file}; sha256 {}; check {}; from {}{}",
                    patch.entry.name,
                    patch.entry.sha256,
                    patch.entry.verdict,
                    patch.entry.source,
                    if patch.entry.replace == Some(true) {
                        "; atomic replace"
                    } else {
                        ""
                    }
                );
            }
            for stray in &release.stray_files {
                let _ = writeln!(
                    out,
                    "  {stray}: not in the manifest (half-finished install?): never applied"
                );
            }
        }
        for name in &listing.loaded_not_installed {
            let _ = writeln!(out, "{name}: loaded, not installed");
        }
        out
    }
}

/// Whether the installed state can be trusted, as the exit status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListVerdict {
    /// Every manifest reads and every installed file is intact: exit 0.
    Trusted,
    /// Some state cannot be trusted ([`Listing::untrusted`]): exit 1.
    Untrusted,
}

impl Enveloped for Listing {
    type Verdict = ListVerdict;
    const COMMAND: CommandName = CommandName::List;

    fn verdict(&self) -> ListVerdict {
        if self.untrusted() {
            ListVerdict::Untrusted
        } else {
            ListVerdict::Trusted
        }
    }

    /// None: the listing is state, not coded checks.
    fn envelope_findings(&self) -> Vec<Finding> {
        Vec::new()
    }
}

/// The state of `path` against `sha256`.
pub fn file_state(path: &Path, sha256: &str) -> FileState {
    match std::fs::read(path) {
        Ok(bytes) => {
            let actual = sha256_hex(&bytes);
            if actual.eq_ignore_ascii_case(sha256) {
                FileState::Intact
            } else {
                FileState::HashMismatch { actual }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileState::Missing,
        Err(e) => FileState::Unreadable {
            error: format!("{}: {e}", path.display()),
        },
    }
}

/// Lists the release directory `dir` of `release`; `loaded` are the loaded patch names when it
/// is the running release.
pub fn list_release(dir: &Path, release: &str, loaded: Option<&[String]>) -> ReleaseListing {
    let mut listing = ReleaseListing {
        release: release.to_string(),
        dir: dir.to_path_buf(),
        running: loaded.is_some(),
        manifest_error: None,
        patches: Vec::new(),
        stray_files: Vec::new(),
    };
    let entries = match manifest::read(dir) {
        Ok(manifest) => manifest.patches,
        Err(error) => {
            listing.manifest_error = Some(error.to_string());
            Vec::new()
        }
    };
    for entry in entries {
        let path = dir.join(entry.file_name());
        listing.patches.push(InstalledPatch {
            file: file_state(&path, &entry.sha256),
            loaded: loaded.map(|names| names.contains(&entry.name)),
            path,
            entry,
        });
    }
    if let Ok(files) = std::fs::read_dir(dir) {
        let mut stray: Vec<String> = files
            .filter_map(Result::ok)
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name.ends_with(".ko")
                    && !listing.patches.iter().any(|p| p.entry.file_name() == *name)
            })
            .collect();
        stray.sort();
        listing.stray_files = stray;
    }
    listing
}

/// Lists the state directory `state` against the loaded patches in `livepatch`.
pub fn list(state: &Path, running_release: Option<&str>, livepatch: &LivepatchSysfs) -> Listing {
    let (loaded, loaded_error) = if livepatch.is_supported() {
        match livepatch.patches() {
            Ok(patches) => (patches.into_iter().map(|p| p.name).collect(), None),
            Err(error) => (Vec::new(), Some(error.to_string())),
        }
    } else {
        (
            Vec::new(),
            Some(format!(
                "{}: no livepatch support",
                livepatch.root().display()
            )),
        )
    };
    let mut releases: Vec<String> = std::fs::read_dir(state.join("patches"))
        .map(|dirs| {
            dirs.filter_map(Result::ok)
                .filter(|d| d.path().is_dir())
                .map(|d| d.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    releases.sort_by(|a, b| crate::kexec::release_order::compare(b, a));
    let listings: Vec<ReleaseListing> = releases
        .iter()
        .map(|release| {
            let running = running_release == Some(release.as_str());
            list_release(
                &super::release_dir(state, release),
                release,
                running.then_some(loaded.as_slice()),
            )
        })
        .collect();
    let installed_running: Vec<&str> = listings
        .iter()
        .filter(|l| l.running)
        .flat_map(|l| l.patches.iter().map(|p| p.entry.name.as_str()))
        .collect();
    let loaded_not_installed = loaded
        .iter()
        .filter(|name| !installed_running.contains(&name.as_str()))
        .cloned()
        .collect();
    Listing {
        state_dir: state.to_path_buf(),
        running_release: running_release.map(str::to_string),
        loaded,
        loaded_error,
        releases: listings,
        loaded_not_installed,
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::{install, NewPatch};
    use super::*;

    fn put(dir: &Path, name: &str, bytes: &[u8]) {
        install(
            dir,
            &NewPatch {
                name,
                bytes,
                source: Path::new("/src/x.ko"),
                verdict: "accept",
                replace: Some(false),
            },
        )
        .unwrap();
    }

    #[test]
    fn intact_missing_altered_and_stray_files() {
        let state = tempfile::tempdir().unwrap();
        let dir = super::super::release_dir(state.path(), "6.1.0-57-amd64");
        put(&dir, "lp_a", b"a");
        put(&dir, "lp_b", b"b");
        put(&dir, "lp_c", b"c");
        std::fs::remove_file(dir.join("lp_b.ko")).unwrap();
        std::fs::write(dir.join("lp_c.ko"), b"altered").unwrap();
        std::fs::write(dir.join("lp_half.ko"), b"half").unwrap();
        let loaded = vec!["lp_a".to_string(), "lp_other".to_string()];
        let listing = list_release(&dir, "6.1.0-57-amd64", Some(&loaded));
        let states: Vec<&FileState> = listing.patches.iter().map(|p| &p.file).collect();
        assert_eq!(states[0], &FileState::Intact);
        assert_eq!(states[1], &FileState::Missing);
        assert!(matches!(states[2], FileState::HashMismatch { .. }));
        assert_eq!(listing.patches[0].loaded, Some(true));
        assert_eq!(listing.patches[1].loaded, Some(false));
        assert_eq!(listing.stray_files, ["lp_half.ko"]);
        let whole = Listing {
            state_dir: state.path().to_path_buf(),
            running_release: Some("6.1.0-57-amd64".into()),
            loaded,
            loaded_error: None,
            releases: vec![listing],
            loaded_not_installed: vec!["lp_other".into()],
        };
        assert_eq!(whole.verdict(), ListVerdict::Untrusted);
        let text = whole.render_human();
        assert!(
            text.starts_with("running release: 6.1.0-57-amd64\nloaded patches: lp_a, lp_other\n"),
            "{text}"
        );
        assert!(
            text.contains("  lp_b: installed, not loaded; FILE MISSING: refused; "),
            "{text}"
        );
        assert!(text.contains("  lp_half.ko: not in the manifest"), "{text}");
        assert!(
            text.ends_with("lp_other: loaded, not installed\n"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&whole.to_json()).unwrap();
        assert_eq!(
            (json["command"].as_str(), json["verdict"].as_str()),
            (Some("list"), Some("untrusted"))
        );
        let empty = Listing {
            releases: Vec::new(),
            ..whole
        };
        assert_eq!(empty.verdict(), ListVerdict::Trusted);
    }

    #[test]
    fn a_corrupt_manifest_lists_no_patch() {
        let state = tempfile::tempdir().unwrap();
        let dir = super::super::release_dir(state.path(), "r");
        put(&dir, "lp_a", b"a");
        let manifest = dir.join(manifest::FILE_NAME);
        let text = std::fs::read(&manifest).unwrap();
        std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
        let listing = list_release(&dir, "r", None);
        assert!(listing.patches.is_empty());
        assert!(listing.manifest_error.unwrap().contains("corrupt manifest"));
        // Its file is not named by a trusted manifest: reported, never applied.
        assert_eq!(listing.stray_files, ["lp_a.ko"]);
    }
}

//! The install workflows as the commands run them: `install` (checked against the target
//! kernel first), `uninstall`, and `apply --installed` (each installed patch of the running
//! release through the full apply procedure, in manifest order).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use lpcheck_analyzer::check::{check, CheckOptions, CheckReport};
use lpcheck_analyzer::kernel::{Fact, KernelFacts};
use lpcheck_analyzer::patch::PatchModule;

use super::listing::{self, FileState, InstalledPatch};
use super::manifest::ManifestEntry;
use super::store::{self, NewPatch};
use crate::apply::ApplyRequest;
use crate::events::ApplyObserver;
use crate::host;
use crate::inputs::{rule_set, running_kernel_prototypes};
use crate::livepatch::LivepatchSysfs;
use crate::module_syscalls::kernel_module_name;
use crate::safe_moment::WaitUpdate;
use crate::session::{apply_on_running_kernel, prepare, SafeMomentArgs};

/// How `install` ended.
#[derive(Debug)]
pub enum InstallOutcome {
    /// Installed.
    Installed {
        /// The manifest entry.
        entry: ManifestEntry,
        /// The release it is installed for.
        release: String,
        /// The installed file.
        path: PathBuf,
        /// The check report.
        report: Box<CheckReport>,
    },
    /// `check` did not accept it: nothing installed.
    Refused {
        /// The check report.
        report: Box<CheckReport>,
        /// The release it was checked against.
        release: String,
    },
}

/// The running release, or an error saying it is unknown.
pub fn running_release() -> Result<String> {
    match host::release() {
        Fact::Known { value, .. } => Ok(value),
        Fact::Unknown { reason } => anyhow::bail!("the running release is unknown: {reason}"),
    }
}

/// Checks `module` against `release` (the running kernel's facts when it is the running
/// release; only the release otherwise, the other facts unknown) and installs it into `state`
/// when the verdict is accept.
pub fn install(
    state: &Path,
    module: &Path,
    release: Option<&str>,
    rules: &[PathBuf],
) -> Result<InstallOutcome> {
    let patch = PatchModule::load(module)?;
    let running = running_release().ok();
    let release = match release.or(running.as_deref()) {
        Some(release) => release.to_string(),
        None => anyhow::bail!("the running release is unknown: pass --kernel REL"),
    };
    let facts = if running.as_deref() == Some(release.as_str()) {
        let mut facts = host::running_kernel_facts();
        facts.debuginfo = Some(running_kernel_prototypes(&patch, module)?);
        facts
    } else {
        let why = format!("{release} is not the running kernel");
        KernelFacts::from_parts(
            Fact::known(release.clone(), "--kernel"),
            Fact::unknown(why.clone()),
            Fact::unknown(why),
        )
    };
    let report = check(
        &patch,
        &facts,
        &rule_set(rules)?,
        CheckOptions {
            strict: false,
            allow_unknown: false,
        },
    );
    if report.verdict.exit_code() != 0 {
        return Ok(InstallOutcome::Refused {
            report: Box::new(report),
            release,
        });
    }
    let bytes = std::fs::read(module).with_context(|| module.display().to_string())?;
    let name = kernel_module_name(&patch.name());
    let dir = super::release_dir(state, &release);
    let source = std::fs::canonicalize(module).unwrap_or_else(|_| module.to_path_buf());
    let verdict = serde_json::to_value(report.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", report.verdict));
    let entry = store::install(
        &dir,
        &NewPatch {
            name: &name,
            bytes: &bytes,
            source: &source,
            verdict: &verdict,
            replace: patch.replace,
        },
    )?;
    Ok(InstallOutcome::Installed {
        path: dir.join(entry.file_name()),
        entry,
        release,
        report: Box::new(report),
    })
}

/// Removes `name` installed for `release` (the running one when `None`); returns the entry and
/// whether the patch is still loaded (uninstalling does not unload it).
pub fn uninstall(
    state: &Path,
    name: &str,
    release: Option<&str>,
) -> Result<(ManifestEntry, String, bool)> {
    let release = match release {
        Some(release) => release.to_string(),
        None => running_release()?,
    };
    let name = kernel_module_name(name.trim_end_matches(".ko"));
    let entry = store::uninstall(&super::release_dir(state, &release), &release, &name)?;
    let loaded = LivepatchSysfs::default()
        .patches()
        .map(|patches| patches.iter().any(|p| p.name == name))
        .unwrap_or(false);
    Ok((entry, release, loaded))
}

/// What `apply --installed` does with one installed patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Apply it.
    Apply,
    /// Already loaded: nothing to do.
    AlreadyLoaded,
    /// A later installed patch with atomic replace supersedes it.
    Superseded {
        /// That patch.
        by: String,
    },
    /// Its file cannot be trusted: refused.
    Refused {
        /// Why.
        reason: String,
    },
}

/// What to do with each patch, in manifest order: untrusted files are refused; patches before
/// the last intact one with atomic replace are superseded by it (it replaces them when loaded).
pub fn decide(patches: &[InstalledPatch]) -> Vec<Decision> {
    let last_replace = patches
        .iter()
        .rposition(|p| p.file == FileState::Intact && p.entry.replace == Some(true));
    patches
        .iter()
        .enumerate()
        .map(|(i, p)| match &p.file {
            FileState::Missing => Decision::Refused {
                reason: format!("{} is missing", p.path.display()),
            },
            FileState::HashMismatch { actual } => Decision::Refused {
                reason: format!(
                    "{} changed since it was installed: sha256 {actual}, manifest {}",
                    p.path.display(),
                    p.entry.sha256
                ),
            },
            FileState::Unreadable { error } => Decision::Refused {
                reason: error.clone(),
            },
            FileState::Intact if p.loaded == Some(true) => Decision::AlreadyLoaded,
            FileState::Intact => match last_replace {
                Some(r) if i < r => Decision::Superseded {
                    by: patches[r].entry.name.clone(),
                },
                _ => Decision::Apply,
            },
        })
        .collect()
}

/// The settings every apply of `apply --installed` uses.
#[derive(Debug, Clone)]
pub struct ApplySettings {
    /// Transition timeout.
    pub timeout: Duration,
    /// Reverse transition timeout.
    pub revert_timeout: Duration,
    /// Go on when a preflight fact is unknown.
    pub accept_unknown: bool,
    /// The safe-moment wait.
    pub safe_moment: SafeMomentArgs,
    /// Rule files.
    pub rules: Vec<PathBuf>,
    /// The journal.
    pub journal: PathBuf,
}

/// How one installed patch fared.
#[derive(Debug, Clone)]
pub struct PatchRun {
    /// Its name.
    pub name: String,
    /// What was decided.
    pub decision: Decision,
    /// For an applied one: the engine's exit code (0 applied), or the error that stopped it.
    pub result: Option<Result<u8, String>>,
}

impl PatchRun {
    /// Whether this patch counts as a failure.
    pub fn failed(&self) -> bool {
        matches!(self.decision, Decision::Refused { .. })
            || matches!(self.result, Some(Err(_)) | Some(Ok(1..)))
    }
}

/// Everything `apply --installed` did.
#[derive(Debug, Clone)]
pub struct InstalledRun {
    /// The running release.
    pub release: String,
    /// Why the release's manifest cannot be trusted (then nothing was applied).
    pub manifest_error: Option<String>,
    /// `.ko` files no manifest entry names: never applied.
    pub stray_files: Vec<String>,
    /// Each patch, in manifest order.
    pub patches: Vec<PatchRun>,
}

impl InstalledRun {
    /// Whether anything failed (exit 1).
    pub fn any_failed(&self) -> bool {
        self.manifest_error.is_some() || self.patches.iter().any(PatchRun::failed)
    }
}

/// Applies every installed patch of the running release, in manifest order, each through the
/// full apply procedure (static check, preflight, safe moment, follow, revert on stall),
/// reporting to `observer` and going on past a failure. `before` is called before each patch;
/// `progress` makes the listener of each patch's safe-moment wait.
pub fn apply_installed(
    state: &Path,
    settings: &ApplySettings,
    observer: &mut dyn ApplyObserver,
    before: &mut dyn FnMut(&str, &Decision),
    progress: &mut dyn FnMut() -> Box<dyn FnMut(&WaitUpdate)>,
) -> Result<InstalledRun> {
    let release = running_release()?;
    let dir = super::release_dir(state, &release);
    let loaded: Vec<String> = LivepatchSysfs::default()
        .patches()
        .map(|patches| patches.into_iter().map(|p| p.name).collect())
        .unwrap_or_default();
    let release_listing = listing::list_release(&dir, &release, Some(&loaded));
    let decisions = decide(&release_listing.patches);
    let mut runs = Vec::new();
    for (patch, decision) in release_listing.patches.iter().zip(decisions) {
        before(&patch.entry.name, &decision);
        let result = (decision == Decision::Apply).then(|| {
            apply_one(patch, settings, observer, progress()).map_err(|error| format!("{error:#}"))
        });
        runs.push(PatchRun {
            name: patch.entry.name.clone(),
            decision,
            result,
        });
    }
    Ok(InstalledRun {
        release,
        manifest_error: release_listing.manifest_error,
        stray_files: release_listing.stray_files,
        patches: runs,
    })
}

fn apply_one(
    patch: &InstalledPatch,
    settings: &ApplySettings,
    observer: &mut dyn ApplyObserver,
    progress: Box<dyn FnMut(&WaitUpdate)>,
) -> Result<u8> {
    // Checked again just before loading: the file may have changed since it was listed.
    if let FileState::HashMismatch { actual } =
        listing::file_state(&patch.path, &patch.entry.sha256)
    {
        anyhow::bail!(
            "{} changed since it was listed (sha256 {actual}): refused",
            patch.path.display()
        );
    }
    let prepared = prepare(&patch.path, &settings.rules, settings.safe_moment, progress)?;
    let mut gate = prepared.gate;
    let request = ApplyRequest {
        module: patch.path.clone(),
        params: Vec::new(),
        timeout: settings.timeout,
        revert_timeout: settings.revert_timeout,
        dry_run: false,
        force_on_stall: false,
        accept_unknown: settings.accept_unknown,
    };
    let run = apply_on_running_kernel(
        &request,
        &prepared.subject,
        gate.as_mut(),
        &settings.journal,
        observer,
    )?;
    Ok(run.outcome.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(name: &str, file: FileState, replace: bool, loaded: bool) -> InstalledPatch {
        InstalledPatch {
            entry: ManifestEntry {
                name: name.to_string(),
                sha256: "0".repeat(64),
                source: "/src".to_string(),
                installed_at: 0,
                verdict: "accept".to_string(),
                replace: Some(replace),
            },
            path: PathBuf::from(format!("/state/{name}.ko")),
            file,
            loaded: Some(loaded),
        }
    }

    #[test]
    fn replace_supersedes_earlier_and_untrusted_files_are_refused() {
        let patches = [
            installed("lp_a", FileState::Intact, false, false),
            installed("lp_b", FileState::Intact, true, false),
            installed("lp_c", FileState::Intact, false, true),
            installed(
                "lp_d",
                FileState::HashMismatch {
                    actual: "1".repeat(64),
                },
                true,
                false,
            ),
            installed("lp_e", FileState::Missing, false, false),
            installed("lp_f", FileState::Intact, false, false),
        ];
        let decisions = decide(&patches);
        assert_eq!(
            decisions[0],
            Decision::Superseded {
                by: "lp_b".to_string()
            }
        );
        assert_eq!(decisions[1], Decision::Apply);
        assert_eq!(decisions[2], Decision::AlreadyLoaded);
        assert!(
            matches!(&decisions[3], Decision::Refused { reason } if reason.contains("changed"))
        );
        assert!(
            matches!(&decisions[4], Decision::Refused { reason } if reason.contains("missing"))
        );
        assert_eq!(decisions[5], Decision::Apply);
    }

    #[test]
    fn a_refused_patch_counts_as_failed() {
        let refused = PatchRun {
            name: "x".into(),
            decision: Decision::Refused { reason: "r".into() },
            result: None,
        };
        let applied = PatchRun {
            name: "y".into(),
            decision: Decision::Apply,
            result: Some(Ok(0)),
        };
        let stalled = PatchRun {
            result: Some(Ok(1)),
            ..applied.clone()
        };
        assert!(refused.failed() && !applied.failed() && stalled.failed());
    }
}

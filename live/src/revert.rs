//! Taking a patch out: disable it (which starts, or turns around, its transition), wait for the
//! tasks to return to the original code, `delete_module`, and check that the patch is gone and
//! no livepatch handler remains on its targets. Used by `lpcheck revert` and by `apply` when a
//! transition stalls or anything fails after loading.

use std::time::{Duration, Instant};

use lpcheck_ebpf::ProcFs;

use super::apply_preflight::CheckStatus;
use super::events::{Action, ApplyEvent, ApplyObserver, Outcome, Verification};
use super::hostfs::enabled_functions::{self, EnabledEntry};
use super::hostfs::HostPaths;
use super::livepatch::{LivepatchSysfs, LoadedPatch};
use super::module_syscalls::{loaded_modules, ModuleOps};
use super::patch_state::{PatchState, ProcPatchStates};
use super::target::TargetFunction;
use super::transition::{millis, Follow, TransitionEnd};
use super::LiveError;

/// How long `delete_module` is retried while the kernel frees a disabled patch.
const UNLOAD_WAIT: Duration = Duration::from_secs(10);

/// The running kernel as the engines use it.
pub struct LiveKernel<'a> {
    /// Where its interfaces are.
    pub paths: HostPaths,
    /// How modules get loaded and unloaded.
    pub modules: &'a mut dyn ModuleOps,
    /// Time between polls of a transition.
    pub poll: Duration,
}

impl LiveKernel<'_> {
    /// The livepatch tree.
    pub fn sysfs(&self) -> LivepatchSysfs {
        LivepatchSysfs::at(&self.paths.livepatch)
    }

    /// Follows a transition of `patch` towards `goal`.
    pub fn follow(
        &self,
        patch: &str,
        goal: PatchState,
        targets: &[TargetFunction],
        timeout: Duration,
        emit: &mut dyn FnMut(ApplyEvent),
    ) -> TransitionEnd {
        let sysfs = self.sysfs();
        let states = ProcPatchStates::at(&self.paths.proc);
        let stacks = ProcFs::at(&self.paths.proc);
        Follow {
            sysfs: &sysfs,
            states: &states,
            stacks: &stacks,
            patch,
            goal,
            targets,
            timeout,
            poll: self.poll,
        }
        .run(emit)
    }
}

/// How a revert ended.
#[derive(Debug)]
pub enum RevertEnd {
    /// Disabled and unloaded; the verification's overall result.
    Done {
        /// Fail when a check contradicts the revert, else Unknown when one could not be read,
        /// else Warn when another patch still replaces a target, else Pass.
        verified: CheckStatus,
    },
    /// The reverse transition did not complete in time (the stall was reported); the patch is
    /// still loaded, disabled, with its transition pending.
    ReverseStalled,
    /// A step failed.
    Failed(String),
}

/// Disables `patch` (unless it is disabled already), waits up to `timeout` for the reverse
/// transition, unloads the module and verifies.
pub fn disable_and_unload(
    kernel: &mut LiveKernel<'_>,
    patch: &str,
    targets: &[TargetFunction],
    timeout: Duration,
    emit: &mut dyn FnMut(ApplyEvent),
) -> RevertEnd {
    let sysfs = kernel.sysfs();
    match sysfs.patch(patch) {
        Ok(Some(found)) if found.enabled => {
            if let Err(error) = sysfs.set_enabled(patch, false) {
                return RevertEnd::Failed(format!("cannot disable {patch}: {error}"));
            }
        }
        Ok(_) => {}
        Err(error) if error.is_not_found() => {}
        Err(error) => return RevertEnd::Failed(error.to_string()),
    }
    match kernel.follow(patch, PatchState::Unpatched, targets, timeout, emit) {
        TransitionEnd::Complete { elapsed } => emit(ApplyEvent::TransitionComplete {
            goal: PatchState::Unpatched,
            elapsed_ms: millis(elapsed),
        }),
        TransitionEnd::Stalled { event } => {
            emit(event);
            return RevertEnd::ReverseStalled;
        }
        TransitionEnd::Overridden => {
            return RevertEnd::Failed(format!(
                "{patch} was enabled again by someone else during its reverse transition"
            ))
        }
        TransitionEnd::Failed(error) => return RevertEnd::Failed(error.to_string()),
    }
    if let Err(error) = unload(kernel, patch) {
        return RevertEnd::Failed(error.to_string());
    }
    emit(ApplyEvent::Unloaded);
    let checks = verify(&kernel.paths, patch, targets);
    let verified = overall(&checks);
    emit(ApplyEvent::Verified { checks });
    RevertEnd::Done { verified }
}

/// `lpcheck revert`: takes the loaded patch `patch` out. When its reverse transition stalls, the
/// patch is enabled again (as it was found) and the outcome is [`Outcome::RevertStalled`].
pub fn revert(
    kernel: &mut LiveKernel<'_>,
    patch: &LoadedPatch,
    timeout: Duration,
    observer: &mut dyn ApplyObserver,
) -> Outcome {
    let name = patch.name.as_str();
    let mut emit = |event: ApplyEvent| observer.on_event(name, &event);
    emit(ApplyEvent::Started {
        action: Action::Revert,
        module: None,
        params: Vec::new(),
        dry_run: false,
    });
    let targets: Vec<TargetFunction> = patch
        .objects
        .iter()
        .flat_map(|object| {
            object.functions.iter().map(|function| TargetFunction {
                object: object.name.clone(),
                function: function.name.clone(),
            })
        })
        .collect();
    emit(ApplyEvent::Reverting {
        reason: "requested".to_string(),
    });
    let (outcome, summary) = match disable_and_unload(kernel, name, &targets, timeout, &mut emit) {
        RevertEnd::Done {
            verified: CheckStatus::Fail,
        } => (
            Outcome::Failed,
            format!("{name} was disabled and unloaded, but the verification contradicts it"),
        ),
        RevertEnd::Done { verified } => (
            Outcome::Reverted,
            format!(
                "reverted {name}: disabled and unloaded; {}",
                verified_words(verified)
            ),
        ),
        RevertEnd::ReverseStalled if patch.enabled => {
            emit(ApplyEvent::Reenabling);
            reenable(kernel, name, &targets, timeout, &mut emit)
        }
        RevertEnd::ReverseStalled => (
            Outcome::Failed,
            format!("{name}: the reverse transition stalled; it stays loaded and disabled"),
        ),
        RevertEnd::Failed(error) => (
            Outcome::Failed,
            format!("revert of {name} failed: {error} (run `lpcheck status`)"),
        ),
    };
    emit(ApplyEvent::Finished { outcome, summary });
    outcome
}

/// The overall result of verification checks: the worst of them.
fn overall(checks: &[Verification]) -> CheckStatus {
    let has = |status| checks.iter().any(|c| c.status == status);
    if has(CheckStatus::Fail) {
        CheckStatus::Fail
    } else if has(CheckStatus::Unknown) {
        CheckStatus::Unknown
    } else if has(CheckStatus::Warn) {
        CheckStatus::Warn
    } else {
        CheckStatus::Pass
    }
}

/// How a non-failing verification reads in a summary.
pub fn verified_words(verified: CheckStatus) -> &'static str {
    match verified {
        CheckStatus::Pass => "verified: targets back to their original code",
        CheckStatus::Warn => "another loaded patch still replaces some targets",
        CheckStatus::Unknown => "some checks could not be read (see the verification)",
        CheckStatus::Fail => "the verification contradicts it",
    }
}

/// Turns a stalled reverse transition around, back to the patched state it was found in.
fn reenable(
    kernel: &mut LiveKernel<'_>,
    name: &str,
    targets: &[TargetFunction],
    timeout: Duration,
    emit: &mut dyn FnMut(ApplyEvent),
) -> (Outcome, String) {
    if let Err(error) = kernel.sysfs().set_enabled(name, true) {
        return (
            Outcome::Failed,
            format!("{name}: the revert stalled and enabling it again failed: {error}"),
        );
    }
    match kernel.follow(name, PatchState::Patched, targets, timeout, emit) {
        TransitionEnd::Complete { elapsed } => {
            emit(ApplyEvent::TransitionComplete {
                goal: PatchState::Patched,
                elapsed_ms: millis(elapsed),
            });
            (
                Outcome::RevertStalled,
                format!("the revert of {name} stalled; it is enabled again, as it was found"),
            )
        }
        _ => (
            Outcome::Failed,
            format!(
                "{name}: the revert stalled and so did enabling it again (run `lpcheck status`)"
            ),
        ),
    }
}

/// `delete_module`, retried while the kernel still holds the module (it drops its reference
/// when it frees the disabled patch, shortly after the transition).
fn unload(kernel: &mut LiveKernel<'_>, patch: &str) -> Result<(), LiveError> {
    let start = Instant::now();
    loop {
        let error = match kernel.modules.unload(patch) {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let errno = match &error {
            LiveError::Syscall { source, .. } => source.raw_os_error(),
            _ => None,
        };
        match errno {
            Some(libc::ENOENT) => return Ok(()),
            Some(libc::EBUSY | libc::EAGAIN) if start.elapsed() < UNLOAD_WAIT => {
                std::thread::sleep(kernel.poll);
            }
            _ => return Err(error),
        }
    }
}

/// Checks that `patch` is gone: no sysfs directory, no module, and no livepatch ftrace handler
/// left on its targets (tracefs `enabled_functions`) unless another loaded patch covers them.
pub fn verify(paths: &HostPaths, patch: &str, targets: &[TargetFunction]) -> Vec<Verification> {
    let mut checks = Vec::new();
    let dir = paths.livepatch.join(patch);
    checks.push(Verification {
        what: "patch removed from sysfs".into(),
        status: if dir.exists() {
            CheckStatus::Fail
        } else {
            CheckStatus::Pass
        },
        evidence: format!(
            "{} {}",
            dir.display(),
            if dir.exists() { "exists" } else { "absent" }
        ),
    });
    checks.push(match loaded_modules(&paths.modules) {
        Ok(modules) if modules.iter().any(|m| m == patch) => Verification {
            what: "module unloaded".into(),
            status: CheckStatus::Fail,
            evidence: format!("{patch} still in {}", paths.modules.display()),
        },
        Ok(_) => Verification {
            what: "module unloaded".into(),
            status: CheckStatus::Pass,
            evidence: format!("{patch} not in {}", paths.modules.display()),
        },
        Err(error) => Verification {
            what: "module unloaded".into(),
            status: CheckStatus::Unknown,
            evidence: error.to_string(),
        },
    });
    let hooked = enabled_functions::read(&paths.enabled_functions());
    let other_patches = LivepatchSysfs::at(&paths.livepatch)
        .patches()
        .unwrap_or_default();
    for target in targets {
        let what = format!("{target} runs its original code");
        let covered_by = other_patches.iter().find(|p| {
            p.name != patch
                && p.objects.iter().any(|o| {
                    o.name == target.object && o.functions.iter().any(|f| f.name == target.function)
                })
        });
        let verification = match (&hooked, covered_by) {
            (_, Some(other)) => Verification {
                what,
                status: CheckStatus::Warn,
                evidence: format!("patch {} also replaces it", other.name),
            },
            (Err(reason), None) => Verification {
                what,
                status: CheckStatus::Unknown,
                evidence: reason.clone(),
            },
            (Ok((file, entries)), None) => match klp_handler_line(entries, target) {
                Some(line) => Verification {
                    what,
                    status: CheckStatus::Fail,
                    evidence: format!("still hooked: {line}"),
                },
                None => Verification {
                    what,
                    status: CheckStatus::Pass,
                    evidence: format!("no livepatch handler on it in {}", file.display()),
                },
            },
        };
        checks.push(verification);
    }
    checks
}

/// The `enabled_functions` line showing a livepatch handler on `target`, if any.
fn klp_handler_line<'e>(entries: &'e [EnabledEntry], target: &TargetFunction) -> Option<&'e str> {
    entries
        .iter()
        .find(|entry| entry.by_livepatch && target.matches(&entry.name, entry.module.as_deref()))
        .map(|entry| entry.line.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_kernel::{Behaviour, FakeKernel, FakeModules, ReverseCompleter};
    use crate::livepatch::fake::add_patch;

    #[derive(Default)]
    struct Tags(Vec<String>);

    impl ApplyObserver for Tags {
        fn on_event(&mut self, _patch: &str, event: &ApplyEvent) {
            let value = serde_json::to_value(event).unwrap();
            self.0.push(value["event"].as_str().unwrap().to_string());
        }
    }

    /// Reverts `patch` on the fake kernel; returns the outcome and the event tags without the
    /// progress reports.
    fn run_revert(
        fake: &FakeKernel,
        modules: &mut FakeModules,
        patch: &LoadedPatch,
        timeout: Duration,
    ) -> (Outcome, Vec<String>) {
        let mut tags = Tags::default();
        let outcome = {
            let mut kernel = LiveKernel {
                paths: fake.paths.clone(),
                modules,
                poll: Duration::from_millis(20),
            };
            revert(&mut kernel, patch, timeout, &mut tags)
        };
        let tags = tags.0.into_iter().filter(|t| t != "progress").collect();
        (outcome, tags)
    }

    #[test]
    fn revert_disables_waits_unloads_and_verifies() {
        let fake = FakeKernel::new();
        let mut modules = FakeModules::new(&fake.paths, Behaviour::Completes);
        modules
            .load(std::path::Path::new("lp-cmdline.ko"), "")
            .unwrap();
        let patch = LivepatchSysfs::at(&fake.paths.livepatch)
            .patch("lp_cmdline")
            .unwrap()
            .unwrap();
        let _completer = ReverseCompleter::start(&fake.paths);
        let (outcome, tags) = run_revert(&fake, &mut modules, &patch, Duration::from_secs(5));
        assert_eq!(outcome, Outcome::Reverted, "{tags:?}");
        assert_eq!(
            tags,
            [
                "started",
                "reverting",
                "transition-complete",
                "unloaded",
                "verified",
                "finished"
            ]
        );
        assert_eq!(modules.unloads, ["lp_cmdline"]);
        assert!(!fake.paths.livepatch.join("lp_cmdline").exists());
    }

    #[test]
    fn a_stalled_revert_enables_the_patch_again_as_found() {
        let fake = FakeKernel::new();
        add_patch(
            &fake.paths.livepatch,
            "lp_x",
            true,
            true,
            None,
            &[("vmlinux", &["cmdline_proc_show,1"])],
        );
        FakeKernel::set_states(&fake.paths, "1", "0");
        let patch = LivepatchSysfs::at(&fake.paths.livepatch)
            .patch("lp_x")
            .unwrap()
            .unwrap();
        // The kernel side: once `enabled` went 0 and back to 1, the transition ends.
        let dir = fake.paths.livepatch.join("lp_x");
        let kernel_side = std::thread::spawn(move || {
            let mut seen_disabled = false;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                let enabled = std::fs::read_to_string(dir.join("enabled")).unwrap();
                match enabled.trim() {
                    "0" => seen_disabled = true,
                    "1" if seen_disabled => {
                        std::fs::write(dir.join("transition"), "0\n").unwrap();
                        return true;
                    }
                    _ => {}
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        });
        let mut modules = FakeModules::new(&fake.paths, Behaviour::Completes);
        let (outcome, tags) = run_revert(&fake, &mut modules, &patch, Duration::from_millis(300));
        assert!(
            kernel_side.join().unwrap(),
            "the patch was never enabled again"
        );
        assert_eq!(outcome, Outcome::RevertStalled, "{tags:?}");
        assert_eq!(
            tags,
            [
                "started",
                "reverting",
                "stalled",
                "reenabling",
                "transition-complete",
                "finished"
            ]
        );
        assert!(modules.unloads.is_empty());
        let found = LivepatchSysfs::at(&fake.paths.livepatch)
            .patch("lp_x")
            .unwrap()
            .unwrap();
        assert!(found.enabled && !found.transition);
    }

    #[test]
    fn verification_fails_on_a_leftover_handler_and_notes_other_patches() {
        let fake = FakeKernel::new();
        let target = TargetFunction {
            object: "vmlinux".into(),
            function: "cmdline_proc_show".into(),
        };
        std::fs::write(
            &fake.paths.enabled_functions()[0],
            "cmdline_proc_show (1) R I  \ttramp: 0xffffffffc0203000 (klp_ftrace_handler+0x0/0x140)\n",
        )
        .unwrap();
        let checks = verify(&fake.paths, "lp_cmdline", std::slice::from_ref(&target));
        let statuses: Vec<CheckStatus> = checks.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [CheckStatus::Pass, CheckStatus::Pass, CheckStatus::Fail]
        );
        add_patch(
            &fake.paths.livepatch,
            "lp_other",
            true,
            false,
            None,
            &[("vmlinux", &["cmdline_proc_show,1"])],
        );
        let checks = verify(&fake.paths, "lp_cmdline", std::slice::from_ref(&target));
        assert_eq!(checks[2].status, CheckStatus::Warn);
        assert!(checks[2].evidence.contains("lp_other"), "{checks:?}");
        std::fs::remove_file(&fake.paths.enabled_functions()[0]).unwrap();
        std::fs::remove_dir_all(fake.paths.livepatch.join("lp_other")).unwrap();
        let checks = verify(&fake.paths, "lp_cmdline", &[target]);
        assert_eq!(checks[2].status, CheckStatus::Unknown);
    }

    #[test]
    fn finds_livepatch_handlers_in_enabled_functions() {
        let text = "cmdline_proc_show (1) R I  \ttramp: 0xffffffffc0203000 \
                    (klp_ftrace_handler+0x0/0x140) ->ftrace_ops_assist_func+0x0/0xf0\n\
                    lpc_target_sleep [lpc_target] (1) R I  \ttramp: 0xffffffffc0205000 \
                    (klp_ftrace_handler+0x0/0x140)\n\
                    do_exit (1)   \t->function_trace_call+0x0/0x140\n";
        let entries = enabled_functions::parse(text);
        let target = |object: &str, function: &str| TargetFunction {
            object: object.into(),
            function: function.into(),
        };
        assert!(klp_handler_line(&entries, &target("vmlinux", "cmdline_proc_show")).is_some());
        assert!(klp_handler_line(&entries, &target("lpc_target", "lpc_target_sleep")).is_some());
        assert!(klp_handler_line(&entries, &target("vmlinux", "lpc_target_sleep")).is_none());
        assert!(klp_handler_line(&entries, &target("vmlinux", "do_exit")).is_none());
    }
}

//! The apply engine: preflight, wait for a safe moment, `finit_module`, follow the transition,
//! and on a stall (or any failure after loading) revert so the kernel is left as it was found.
//! It reports every step as an [`ApplyEvent`] to an [`ApplyObserver`] and never prints.

use std::path::PathBuf;
use std::time::Duration;

use lpcheck_analyzer::check::CheckReport;
use lpcheck_analyzer::kernel::KernelFacts;
use lpcheck_analyzer::patch::PatchModule;

use super::apply_preflight::{self, CheckStatus, PreflightCheck};
use super::blockers::ResolvedTarget;
use super::events::{Action, ApplyEvent, ApplyObserver, Outcome};
use super::load_gate::LoadGate;
use super::module_syscalls::kernel_module_name;
use super::patch_state::PatchState;
use super::preflight::{CheckId, PreflightInputs};
use super::revert::{disable_and_unload, verified_words, LiveKernel, RevertEnd};
use super::target::TargetFunction;
use super::transition::{millis, TransitionEnd};
use super::LiveError;

/// How long to wait for a forced transition to finish (the kernel completes it on its next
/// transition work, about a second later).
const FORCED_COMPLETION_WAIT: Duration = Duration::from_secs(10);

/// What writing `force` costs; said to the user before it is written.
pub const FORCE_COST: &str = "every task is marked as switched whatever its stack holds, so \
     tasks still inside a replaced function finish it in the old code while others run the new \
     one (the consistency model no longer holds), and the kernel never lets this patch module \
     be removed (no revert by unloading; only a later patch can replace it)";

/// What to apply and how.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The livepatch module file.
    pub module: PathBuf,
    /// Module parameters, `NAME=VALUE` each.
    pub params: Vec<String>,
    /// How long the transition may take before it counts as stalled.
    pub timeout: Duration,
    /// How long a reverse transition may take.
    pub revert_timeout: Duration,
    /// Stop after the preflight.
    pub dry_run: bool,
    /// On a stall, write `force` instead of reverting (explicit user choice).
    pub force_on_stall: bool,
    /// Go on when a preflight fact is unknown.
    pub accept_unknown: bool,
}

/// The module `apply` loads, with what is known of it on the running kernel.
#[derive(Debug)]
pub struct ApplySubject {
    /// The livepatch module.
    pub patch: PatchModule,
    /// The running kernel's facts (release, symbols, ftrace list, BTF prototypes).
    pub facts: KernelFacts,
    /// The static check of `patch` against `facts`.
    pub report: CheckReport,
    /// The patch's targets, resolved in `facts`.
    pub targets: Vec<ResolvedTarget>,
}

/// Runs `apply` of `subject` on `kernel`: the preflight (the static verdict and `lpcheck
/// preflight`'s checks on the host at `kernel.paths`), the safe-moment wait of `gate`, the
/// load and the transition.
pub fn apply(
    request: &ApplyRequest,
    subject: &ApplySubject,
    kernel: &mut LiveKernel<'_>,
    gate: &mut dyn LoadGate,
    observer: &mut dyn ApplyObserver,
) -> Outcome {
    let report = &subject.report;
    let name = kernel_module_name(&report.module_name);
    let mut emit = |event: ApplyEvent| observer.on_event(&name, &event);
    emit(ApplyEvent::Started {
        action: Action::Apply,
        module: Some(request.module.display().to_string()),
        params: request.params.clone(),
        dry_run: request.dry_run,
    });
    let targets: Vec<TargetFunction> = report
        .targets
        .iter()
        .map(|t| TargetFunction {
            object: t.object.clone(),
            function: t.function.clone(),
        })
        .collect();

    let results = apply_preflight::run(
        report,
        &PreflightInputs {
            patch: &subject.patch,
            facts: &subject.facts,
            targets: &subject.targets,
            paths: &kernel.paths,
            livepatch: &kernel.sysfs(),
        },
    );
    emit(ApplyEvent::Preflight {
        results: results.clone(),
    });
    let blocking: Vec<&str> = results
        .iter()
        .filter(|r| {
            r.status == CheckStatus::Fail
                || (r.status == CheckStatus::Unknown && !request.accept_unknown)
        })
        .map(|r| r.check.name())
        .collect();
    let unsupported = results.iter().any(|r| {
        r.check == PreflightCheck::Host(CheckId::LivepatchSupport) && r.status == CheckStatus::Fail
    });
    if unsupported {
        let summary = format!(
            "cannot apply {name}: this kernel has no livepatch support ({} is missing)",
            kernel.paths.livepatch.display()
        );
        return finish(Outcome::Unsupported, summary, &mut emit);
    }
    if !blocking.is_empty() {
        let mut summary = format!(
            "refused {name} before loading; nothing was loaded (failed or unknown: {})",
            blocking.join(", ")
        );
        if results.iter().any(|r| r.status == CheckStatus::Unknown) && !request.accept_unknown {
            summary.push_str("; --accept-unknown goes on despite unknown facts");
        }
        return finish(Outcome::Refused, summary, &mut emit);
    }
    if request.dry_run {
        let summary = format!("dry run: {name} passed the preflight; nothing was loaded");
        return finish(Outcome::Ready, summary, &mut emit);
    }

    // The one place where lpcheck waits for a safe moment before loading: it takes the place of
    // `lpcheck preflight`'s current-blockers check, one snapshot taken earlier.
    match gate.wait(request.accept_unknown) {
        Ok(summary) => emit(ApplyEvent::SafeMoment { summary }),
        Err(reason) => {
            let summary = format!("refused {name}; nothing was loaded: no safe moment: {reason}");
            return finish(Outcome::Refused, summary, &mut emit);
        }
    }

    let params = request.params.join(" ");
    emit(ApplyEvent::Loading {
        module: request.module.display().to_string(),
        params: params.clone(),
    });
    if let Err(error) = kernel.modules.load(&request.module, &params) {
        emit(ApplyEvent::LoadFailed {
            error: error.to_string(),
        });
        let outcome = if could_not_run(&error) {
            Outcome::Failed
        } else {
            Outcome::LoadRefused
        };
        let summary = format!("the kernel did not load {name}; nothing was loaded: {error}");
        return finish(outcome, summary, &mut emit);
    }
    emit(ApplyEvent::Loaded);

    let end = kernel.follow(
        &name,
        PatchState::Patched,
        &targets,
        request.timeout,
        &mut emit,
    );
    // Past this point the patch is loaded: every way out that is not success reverts it. The
    // outcome of a clean revert is "stalled and reverted" after a stall, a failure otherwise.
    let (reason, reverted_outcome) = match end {
        TransitionEnd::Complete { elapsed } => {
            emit(ApplyEvent::TransitionComplete {
                goal: PatchState::Patched,
                elapsed_ms: millis(elapsed),
            });
            let summary = format!(
                "applied {name}: every task runs the patched code (transition took {:.1}s)",
                elapsed.as_secs_f64()
            );
            return finish(Outcome::Applied, summary, &mut emit);
        }
        TransitionEnd::Stalled { event } => {
            emit(event);
            if request.force_on_stall {
                return force(kernel, &name, &targets, &mut emit);
            }
            (
                format!(
                    "the transition did not complete within {}s",
                    request.timeout.as_secs()
                ),
                Outcome::StalledReverted,
            )
        }
        TransitionEnd::Overridden => (
            "the patch was disabled by someone else during its transition".to_string(),
            Outcome::Failed,
        ),
        TransitionEnd::Failed(error) => {
            emit(ApplyEvent::Error {
                error: error.to_string(),
            });
            (
                format!("following the transition failed: {error}"),
                Outcome::Failed,
            )
        }
    };
    emit(ApplyEvent::Reverting {
        reason: reason.clone(),
    });
    match disable_and_unload(kernel, &name, &targets, request.revert_timeout, &mut emit) {
        RevertEnd::Done {
            verified: CheckStatus::Fail,
        } => {
            let summary = format!(
                "{reason}; {name} was disabled and unloaded, but the verification contradicts \
                 it (see above; run `lpcheck status`)"
            );
            finish(Outcome::Failed, summary, &mut emit)
        }
        RevertEnd::Done { verified } => {
            let summary = format!(
                "{reason}; reverted and unloaded {name}, {}",
                verified_words(verified)
            );
            finish(reverted_outcome, summary, &mut emit)
        }
        RevertEnd::ReverseStalled => {
            let summary = format!(
                "{reason}; the revert stalled too: {name} is still loaded, disabled, its \
                 reverse transition pending (run `lpcheck status`; `lpcheck revert {name}` \
                 once the blockers are gone)"
            );
            finish(Outcome::Failed, summary, &mut emit)
        }
        RevertEnd::Failed(error) => {
            let summary = format!(
                "{reason}; the revert failed: {error}; {name} may still be loaded (run \
                 `lpcheck status`)"
            );
            finish(Outcome::Failed, summary, &mut emit)
        }
    }
}

/// Sends the end event and returns the outcome.
fn finish(outcome: Outcome, summary: String, emit: &mut dyn FnMut(ApplyEvent)) -> Outcome {
    emit(ApplyEvent::Finished { outcome, summary });
    outcome
}

/// On a stall with `--force-on-stall`: says the cost, writes `force`, waits for completion.
fn force(
    kernel: &mut LiveKernel<'_>,
    name: &str,
    targets: &[TargetFunction],
    emit: &mut dyn FnMut(ApplyEvent),
) -> Outcome {
    emit(ApplyEvent::Forcing {
        cost: FORCE_COST.to_string(),
    });
    if let Err(error) = kernel.sysfs().force(name) {
        let summary =
            format!("writing force failed: {error}; {name} is loaded with its transition pending");
        return finish(Outcome::Failed, summary, emit);
    }
    match kernel.follow(
        name,
        PatchState::Patched,
        targets,
        FORCED_COMPLETION_WAIT,
        emit,
    ) {
        TransitionEnd::Complete { elapsed } => {
            emit(ApplyEvent::TransitionComplete {
                goal: PatchState::Patched,
                elapsed_ms: millis(elapsed),
            });
            let summary = format!("applied {name} by force: {FORCE_COST}");
            finish(Outcome::Forced, summary, emit)
        }
        _ => {
            let summary =
                format!("{name} was forced but its transition did not complete; it stays loaded");
            finish(Outcome::Failed, summary, emit)
        }
    }
}

/// A load error that means lpcheck could not try (no file, no permission, no module support),
/// rather than the kernel refusing this patch.
fn could_not_run(error: &LiveError) -> bool {
    match error {
        LiveError::Io { .. } => true,
        LiveError::Syscall { source, .. } => {
            matches!(source.raw_os_error(), Some(libc::EPERM | libc::ENOSYS))
        }
        LiveError::Unexpected { .. } | LiveError::NoLivepatch { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use lpcheck_analyzer::check::check;
    use lpcheck_analyzer::check::CheckOptions;
    use lpcheck_analyzer::kernel::ftrace::FtraceList;
    use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
    use lpcheck_analyzer::kernel::Fact;
    use lpcheck_analyzer::rules::RuleSet;
    use lpcheck_analyzer::testing::ModuleSpec;

    use super::*;
    use crate::apply_preflight::CheckResult;
    use crate::blockers::resolve_targets;
    use crate::fake_kernel::{Behaviour, FakeKernel, FakeModules, ReverseCompleter};
    use crate::livepatch::fake::add_patch;
    use crate::load_gate::{LoadGate, Now};
    use crate::preflight::Status;

    const RELEASE: &str = "6.1.0-56-amd64";

    /// How `kernel/kprobes.c` prints an armed ftrace-based kprobe at the entry of a vmlinux
    /// function: `%px  %s  %s+0x%x  %s ` (the module name a space) then the flags, joined.
    const KPROBE_AT_ENTRY: &str = "ffffffff81001000  k  cmdline_proc_show+0x0    [FTRACE]\n";

    #[derive(Default)]
    struct Recorder(Vec<ApplyEvent>);

    impl ApplyObserver for Recorder {
        fn on_event(&mut self, patch: &str, event: &ApplyEvent) {
            assert_eq!(patch, "lp_test");
            self.0.push(event.clone());
        }
    }

    impl Recorder {
        fn tags(&self) -> Vec<String> {
            self.0
                .iter()
                .map(|e| {
                    serde_json::to_value(e).unwrap()["event"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect()
        }

        fn preflight(&self) -> &[CheckResult] {
            self.0
                .iter()
                .find_map(|e| match e {
                    ApplyEvent::Preflight { results } => Some(results.as_slice()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no preflight event: {:?}", self.0))
        }

        fn result(&self, check: CheckId) -> &CheckResult {
            self.preflight()
                .iter()
                .find(|r| r.check == PreflightCheck::Host(check))
                .unwrap_or_else(|| panic!("no {check:?} result: {:?}", self.preflight()))
        }

        fn summary(&self) -> &str {
            let Some(ApplyEvent::Finished { summary, .. }) = self.0.last() else {
                panic!("no end event: {:?}", self.0);
            };
            summary
        }
    }

    /// `lp_test.ko` (a patch of `vmlinux:cmdline_proc_show`) written in `dir`, with the running
    /// kernel's facts, its static check and its targets.
    fn subject(dir: &Path) -> (ApplySubject, PathBuf) {
        let path = dir.join("lp_test.ko");
        let bytes = ModuleSpec::patching("cmdline_proc_show").build();
        std::fs::write(&path, &bytes).unwrap();
        let patch = PatchModule::from_bytes(&path, &bytes).unwrap();
        let kallsyms = Kallsyms::parse(
            "ffffffff81001000 T cmdline_proc_show\nffffffff81001100 T seq_printf\n",
            Path::new("kallsyms"),
        )
        .unwrap();
        let ftrace =
            FtraceList::parse("cmdline_proc_show\nseq_printf\n", Path::new("ftrace")).unwrap();
        let facts = KernelFacts::from_parts(
            Fact::known(RELEASE.to_string(), "test"),
            Fact::known(kallsyms, "test"),
            Fact::known(ftrace, "test"),
        );
        let report = check(
            &patch,
            &facts,
            &RuleSet::default_rules(),
            CheckOptions::default(),
        );
        let targets = resolve_targets(&patch, &facts, &[]);
        let subject = ApplySubject {
            patch,
            facts,
            report,
            targets,
        };
        (subject, path)
    }

    fn request(module: PathBuf) -> ApplyRequest {
        ApplyRequest {
            module,
            params: vec!["x=1".into()],
            timeout: Duration::from_millis(300),
            revert_timeout: Duration::from_secs(5),
            dry_run: false,
            force_on_stall: false,
            accept_unknown: false,
        }
    }

    fn run(
        fake: &FakeKernel,
        behaviour: Behaviour,
        request: &ApplyRequest,
        subject: &ApplySubject,
    ) -> (Outcome, Recorder, FakeModules) {
        run_gated(fake, behaviour, request, subject, &mut Now)
    }

    fn run_gated(
        fake: &FakeKernel,
        behaviour: Behaviour,
        request: &ApplyRequest,
        subject: &ApplySubject,
        gate: &mut dyn LoadGate,
    ) -> (Outcome, Recorder, FakeModules) {
        let mut modules = FakeModules::new(&fake.paths, behaviour);
        let mut recorder = Recorder::default();
        let _completer = ReverseCompleter::start(&fake.paths);
        let outcome = {
            let mut kernel = LiveKernel {
                paths: fake.paths.clone(),
                modules: &mut modules,
                poll: Duration::from_millis(20),
            };
            apply(request, subject, &mut kernel, gate, &mut recorder)
        };
        (outcome, recorder, modules)
    }

    #[test]
    fn a_completing_transition_is_applied_and_left_loaded() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        let (outcome, events, modules) =
            run(&fake, Behaviour::Completes, &request(module), &subject);
        assert_eq!(outcome, Outcome::Applied, "{:?}", events.0);
        assert_eq!(
            events.tags(),
            [
                "started",
                "preflight",
                "safe-moment",
                "loading",
                "loaded",
                "transition-complete",
                "finished"
            ]
        );
        assert_eq!(modules.loads, ["lp_test"]);
        assert!(modules.unloads.is_empty());
        assert!(fake.paths.livepatch.join("lp_test").is_dir());
        assert!(events
            .0
            .iter()
            .any(|e| matches!(e, ApplyEvent::Loading { params, .. } if params == "x=1")));
    }

    #[test]
    fn the_preflight_is_the_static_verdict_and_every_host_check_on_the_kernels_files() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        let (_, events, _) = run(&fake, Behaviour::Completes, &request(module), &subject);
        let checks: Vec<PreflightCheck> = events.preflight().iter().map(|r| r.check).collect();
        let expected: Vec<PreflightCheck> = PreflightCheck::OWN
            .into_iter()
            .chain(CheckId::HOST.into_iter().map(PreflightCheck::Host))
            .collect();
        assert_eq!(checks, expected, "current-blockers is the safe-moment wait");
        let not_passed: Vec<&CheckResult> = events
            .preflight()
            .iter()
            .filter(|r| r.status != Status::Pass)
            .collect();
        assert!(not_passed.is_empty(), "{not_passed:#?}");
        // The host checks read the fake kernel's files, not this host's.
        let root = fake.dir.path().display().to_string();
        for check in [
            CheckId::LivepatchSupport,
            CheckId::ModuleLoading,
            CheckId::FtraceConflicts,
            CheckId::Kprobes,
        ] {
            let result = events.result(check);
            assert!(result.summary.contains(&root), "{result:?}");
        }
    }

    #[test]
    fn a_kprobe_on_the_target_refuses_before_loading_anything() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        std::fs::write(fake.paths.kprobes_list(), KPROBE_AT_ENTRY).unwrap();
        let (outcome, events, modules) =
            run(&fake, Behaviour::Completes, &request(module), &subject);
        assert_eq!(outcome, Outcome::Refused, "{:?}", events.0);
        assert!(modules.loads.is_empty());
        assert_eq!(events.tags(), ["started", "preflight", "finished"]);
        let kprobes = events.result(CheckId::Kprobes);
        assert_eq!(kprobes.status, Status::Fail, "{kprobes:?}");
        assert!(
            kprobes.summary.contains(KPROBE_AT_ENTRY.trim()) && kprobes.summary.contains("EBUSY"),
            "{kprobes:?}"
        );
        assert!(
            events.summary().contains("nothing was loaded") && events.summary().contains("kprobes"),
            "{}",
            events.summary()
        );
    }

    #[test]
    fn a_disabled_kprobe_on_the_target_is_seen_and_only_warned_of() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        // Flags joined as the kernel prints them; a disarmed probe gives the site back.
        let disabled = "ffffffff81001000  k  cmdline_proc_show+0x0    [DISABLED][FTRACE]\n";
        std::fs::write(fake.paths.kprobes_list(), disabled).unwrap();
        let (outcome, events, modules) =
            run(&fake, Behaviour::Completes, &request(module), &subject);
        assert_eq!(outcome, Outcome::Applied, "{:?}", events.0);
        assert_eq!(modules.loads, ["lp_test"]);
        let kprobes = events.result(CheckId::Kprobes);
        assert_eq!(kprobes.status, Status::Warn, "{kprobes:?}");
        assert!(
            kprobes.summary.contains("[DISABLED][FTRACE]"),
            "{kprobes:?}"
        );
    }

    #[test]
    fn a_failing_host_check_on_the_kernels_files_refuses_before_loading() {
        type Setup = fn(&FakeKernel, &mut ApplySubject);
        let cases: [(&str, CheckId, Setup); 6] = [
            ("release", CheckId::KernelRelease, |_, subject| {
                subject.facts.release = Fact::known("6.1.0-99-amd64".into(), "test");
            }),
            ("ftrace off", CheckId::FtraceEnabled, |fake, _| {
                let file = fake.paths.proc.join("sys/kernel/ftrace_enabled");
                std::fs::write(file, "0\n").unwrap();
            }),
            ("signatures", CheckId::ModuleSignature, |fake, _| {
                let file = fake.paths.sys.join("module/module/parameters/sig_enforce");
                std::fs::write(file, "Y\n").unwrap();
            }),
            ("ipmodify", CheckId::FtraceConflicts, |fake, _| {
                let line = "cmdline_proc_show (1) R I       tramp: 0xffffffffc0201000 \
                            (kprobe_ftrace_handler+0x0/0x1c0)\n";
                std::fs::write(&fake.paths.enabled_functions()[0], line).unwrap();
            }),
            ("transition", CheckId::LoadedLivepatches, |fake, _| {
                let functions: &[&str] = &["do_exit,1"];
                add_patch(
                    &fake.paths.livepatch,
                    "lp_other",
                    true,
                    true,
                    Some(1),
                    &[("vmlinux", functions)],
                );
            }),
            ("same name", CheckId::LoadedLivepatches, |fake, _| {
                let text = "lpc_target 16384 0 - Live 0x0\nlp_test 16384 0 - Live 0x0 (K)\n";
                std::fs::write(&fake.paths.modules, text).unwrap();
            }),
        ];
        for (case, check, setup) in cases {
            let fake = FakeKernel::new();
            let (mut subject, module) = subject(fake.dir.path());
            setup(&fake, &mut subject);
            let (outcome, events, modules) =
                run(&fake, Behaviour::Completes, &request(module), &subject);
            assert_eq!(outcome, Outcome::Refused, "{case}: {:?}", events.0);
            assert!(modules.loads.is_empty(), "{case}");
            assert_eq!(events.result(check).status, Status::Fail, "{case}");
            assert!(events.summary().contains(check.name()), "{case}");
        }
    }

    #[test]
    fn a_warning_goes_on_and_an_unknown_refuses_unless_accepted() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        let tainted = fake.paths.proc.join("sys/kernel/tainted");
        std::fs::write(&tainted, "4096\n").unwrap();
        let (outcome, events, _) = run(
            &fake,
            Behaviour::Completes,
            &request(module.clone()),
            &subject,
        );
        assert_eq!(outcome, Outcome::Applied, "{:?}", events.0);
        assert_eq!(events.result(CheckId::Taint).status, Status::Warn);

        let fake = FakeKernel::new();
        let tainted = fake.paths.proc.join("sys/kernel/tainted");
        std::fs::remove_file(&tainted).unwrap();
        std::fs::create_dir(&tainted).unwrap();
        let (outcome, events, modules) = run(
            &fake,
            Behaviour::Completes,
            &request(module.clone()),
            &subject,
        );
        assert_eq!(outcome, Outcome::Refused, "an unknown is not a pass");
        assert!(modules.loads.is_empty());
        assert_eq!(events.result(CheckId::Taint).status, Status::Unknown);
        assert!(
            events.summary().contains("--accept-unknown"),
            "{}",
            events.summary()
        );
        let mut accepting = request(module);
        accepting.accept_unknown = true;
        let (outcome, _, _) = run(&fake, Behaviour::Completes, &accepting, &subject);
        assert_eq!(outcome, Outcome::Applied);
    }

    #[test]
    fn a_stall_reports_the_blocker_with_its_stack_and_reverts() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        let (outcome, events, modules) = run(&fake, Behaviour::Stalls, &request(module), &subject);
        assert_eq!(outcome, Outcome::StalledReverted, "{:?}", events.0);
        let stalled = events
            .0
            .iter()
            .find_map(|e| match e {
                ApplyEvent::Stalled { blockers, .. } => Some(blockers.clone()),
                _ => None,
            })
            .expect("a stalled event");
        assert_eq!(stalled.len(), 1);
        assert_eq!(
            (stalled[0].pid, stalled[0].comm.as_str()),
            (77, "lpc_target")
        );
        assert_eq!(stalled[0].stack[0], "cmdline_proc_show+0x3f/0x60");
        assert_eq!(stalled[0].targets_on_stack, ["vmlinux:cmdline_proc_show"]);
        let tags = events.tags();
        let after_stall: Vec<&str> = tags
            .iter()
            .skip_while(|t| *t != "stalled")
            .map(String::as_str)
            .filter(|t| *t != "progress")
            .collect();
        assert_eq!(
            after_stall,
            [
                "stalled",
                "reverting",
                "transition-complete",
                "unloaded",
                "verified",
                "finished"
            ]
        );
        assert_eq!(modules.unloads, ["lp_test"]);
        assert!(!fake.paths.livepatch.join("lp_test").exists());
        let Some(ApplyEvent::Verified { checks }) = events
            .0
            .iter()
            .find(|e| matches!(e, ApplyEvent::Verified { .. }))
        else {
            panic!("no verification");
        };
        assert!(
            checks.iter().all(|c| c.status == CheckStatus::Pass),
            "{checks:?}"
        );
    }

    #[test]
    fn force_on_stall_says_what_it_costs_and_keeps_the_patch() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        let mut request = request(module);
        request.force_on_stall = true;
        let (outcome, events, modules) = run(&fake, Behaviour::Stalls, &request, &subject);
        assert_eq!(outcome, Outcome::Forced, "{:?}", events.0);
        assert!(events
            .0
            .iter()
            .any(|e| matches!(e, ApplyEvent::Forcing { cost } if cost.contains("never lets"))));
        assert!(modules.unloads.is_empty());
    }

    /// A gate that never finds a safe moment.
    struct Blocked;

    impl LoadGate for Blocked {
        fn wait(&mut self, _accept_unknown: bool) -> Result<String, String> {
            Err("no safe moment in 30.0 s: 1 task(s) hold a target: 42 (k)".into())
        }
    }

    #[test]
    fn no_safe_moment_refuses_before_loading() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        let (outcome, events, modules) = run_gated(
            &fake,
            Behaviour::Completes,
            &request(module),
            &subject,
            &mut Blocked,
        );
        assert_eq!(outcome, Outcome::Refused);
        assert!(modules.loads.is_empty());
        assert_eq!(events.tags(), ["started", "preflight", "finished"]);
        let Some(ApplyEvent::Finished { summary, .. }) = events.0.last() else {
            panic!("no end event");
        };
        assert!(
            summary.contains("nothing was loaded") && summary.contains("42 (k)"),
            "{summary}"
        );
    }

    #[test]
    fn dry_runs_and_a_kernel_without_livepatch_load_nothing() {
        let fake = FakeKernel::new();
        let (subject, module) = subject(fake.dir.path());
        let mut dry = request(module.clone());
        dry.dry_run = true;
        let (outcome, events, modules) = run(&fake, Behaviour::Completes, &dry, &subject);
        assert_eq!(outcome, Outcome::Ready, "{:?}", events.0);
        assert!(modules.loads.is_empty());

        std::fs::remove_dir_all(&fake.paths.livepatch).unwrap();
        let (outcome, events, modules) =
            run(&fake, Behaviour::Completes, &request(module), &subject);
        assert_eq!(outcome, Outcome::Unsupported);
        assert!(modules.loads.is_empty());
        let support = events.result(CheckId::LivepatchSupport);
        assert_eq!(support.status, Status::Fail, "{support:?}");
        assert!(
            events.summary().contains("no livepatch support"),
            "{}",
            events.summary()
        );
    }
}

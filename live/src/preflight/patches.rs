//! Checks of the patch against the running kernel: target resolution and ftrace-ability,
//! livepatches already loaded, tasks holding targets now.

use lpcheck_analyzer::kernel::ftrace::Hookability;
use lpcheck_analyzer::kernel::KernelFacts;
use lpcheck_analyzer::patch::PatchModule;

use super::{CheckId, CheckResult, HostPaths, Status};
use crate::blockers::{BlockerReport, PartKind, Prediction, ResolvedTarget, Unresolved};
use crate::livepatch::LoadedPatch;
use crate::module_syscalls::{kernel_module_name, loaded_modules};
use crate::LiveError;

/// Blockers named in the evidence; `lpcheck watch` lists them all.
const LISTED_BLOCKERS: usize = 5;

/// The address of a target's main part.
fn address(target: &ResolvedTarget) -> Option<u64> {
    target
        .parts
        .iter()
        .find(|p| p.kind == PartKind::Main)
        .and_then(|p| p.start)
}

/// Every target resolves to one symbol.
pub(super) fn targets_resolvable(targets: &[ResolvedTarget]) -> CheckResult {
    let id = CheckId::TargetsResolvable;
    let mut status = Status::Pass;
    let mut evidence = Vec::new();
    for target in targets {
        let (worst, text) = match &target.unresolved {
            None => (
                Status::Pass,
                format!(
                    "{} (sympos {}) at {:#x}",
                    target.label(),
                    target.sympos,
                    address(target).unwrap_or_default()
                ),
            ),
            Some(Unresolved::SymbolsUnknown(_) | Unresolved::AddressHidden) => (
                Status::Unknown,
                format!("{}: {}", target.label(), describe(target)),
            ),
            Some(Unresolved::ModuleNotLoaded) => (
                Status::Warn,
                format!(
                    "{}: module not loaded; patched when it loads",
                    target.label()
                ),
            ),
            Some(_) => (
                Status::Fail,
                format!("{}: {}", target.label(), describe(target)),
            ),
        };
        status = worse(status, worst);
        evidence.push(text);
    }
    if targets.is_empty() {
        return CheckResult::new(id, Status::Fail, "the module patches no function");
    }
    CheckResult::new(id, status, evidence.join("; "))
}

fn describe(target: &ResolvedTarget) -> String {
    target
        .unresolved
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Fail over Unknown over Warn over Pass.
fn worse(a: Status, b: Status) -> Status {
    let rank = |s: Status| match s {
        Status::Pass => 0,
        Status::Warn => 1,
        Status::Unknown => 2,
        Status::Fail => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Every resolved target's address is an ftrace call site.
pub(super) fn targets_ftraceable(targets: &[ResolvedTarget], facts: &KernelFacts) -> CheckResult {
    let id = CheckId::TargetsFtraceable;
    let mut status = Status::Pass;
    let mut evidence = Vec::new();
    for target in targets {
        let Some(address) = address(target) else {
            status = worse(status, Status::Unknown);
            evidence.push(format!("{}: not resolved, not checked", target.label()));
            continue;
        };
        let (worst, text) = match facts.hookability(address) {
            Hookability::Hookable => (Status::Pass, "ftrace call site at its address".to_owned()),
            Hookability::NotHookable => (
                Status::Fail,
                "no ftrace call site at its address: EINVAL".to_owned(),
            ),
            Hookability::Unknown(reason) => (Status::Unknown, reason),
        };
        status = worse(status, worst);
        evidence.push(format!("{}: {text}", target.label()));
    }
    CheckResult::new(id, status, evidence.join("; "))
}

/// Livepatches already loaded: the same name (a patch in sysfs, or a module in
/// `/proc/modules`), the same functions, atomic replace, a transition in progress.
pub(super) fn loaded_livepatches(
    patch: &PatchModule,
    loaded: &Result<Vec<LoadedPatch>, LiveError>,
    paths: &HostPaths,
) -> CheckResult {
    let id = CheckId::LoadedLivepatches;
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return CheckResult::new(id, Status::Unknown, error.to_string()),
    };
    let name = kernel_module_name(&patch.name());
    if loaded.iter().any(|p| p.name == name) {
        return CheckResult::new(
            id,
            Status::Fail,
            format!("a livepatch named {name} is already loaded: EEXIST"),
        );
    }
    match loaded_modules(&paths.modules) {
        Err(error) => return CheckResult::new(id, Status::Unknown, error.to_string()),
        Ok(modules) if modules.contains(&name) => {
            return CheckResult::new(
                id,
                Status::Fail,
                format!(
                    "module {name} is loaded ({}) without a livepatch in sysfs (a patch \
                     disabled but not unloaded, or another module of that name): EEXIST",
                    paths.modules.display()
                ),
            )
        }
        Ok(_) => {}
    }
    if loaded.is_empty() {
        return CheckResult::new(id, Status::Pass, "no livepatch loaded");
    }
    let mut notes = Vec::new();
    if patch.replace == Some(true) {
        let names: Vec<&str> = loaded.iter().map(|p| p.name.as_str()).collect();
        notes.push(format!(
            "atomic replace: disables and replaces {}",
            names.join(", ")
        ));
    }
    for other in loaded {
        let shared: Vec<String> = patch
            .patched_functions()
            .filter(|(object, function)| {
                other.objects.iter().any(|o| {
                    o.name == object.to_string()
                        && o.functions.iter().any(|f| {
                            f.name == function.old_name
                                && u64::from(f.sympos) == function.old_sympos
                        })
                })
            })
            .map(|(object, function)| format!("{object}:{}", function.old_name))
            .collect();
        if !shared.is_empty() {
            let order = other
                .stack_order
                .map_or("unknown".to_owned(), |o| o.to_string());
            notes.push(format!(
                "{} (stack_order {order}, enabled {}, in transition {}) also patches {}: \
                 this patch goes on top of it",
                other.name,
                other.enabled,
                other.transition,
                shared.join(", ")
            ));
        }
        if other.transition {
            notes.push(format!(
                "{} is in transition: a new patch cannot load until it ends (EBUSY)",
                other.name
            ));
        }
    }
    let names: Vec<&str> = loaded.iter().map(|p| p.name.as_str()).collect();
    if notes.is_empty() {
        return CheckResult::new(
            id,
            Status::Pass,
            format!(
                "loaded: {}; none patches the same functions",
                names.join(", ")
            ),
        );
    }
    let status = if loaded.iter().any(|p| p.transition) {
        Status::Fail
    } else {
        Status::Warn
    };
    CheckResult::new(id, status, notes.join("; "))
}

/// Tasks holding a target in one snapshot.
pub(super) fn current_blockers(blockers: &Result<BlockerReport, String>) -> CheckResult {
    let id = CheckId::CurrentBlockers;
    let report = match blockers {
        Ok(report) => report,
        Err(reason) => return CheckResult::new(id, Status::Unknown, reason.clone()),
    };
    if !report.hidden_targets.is_empty() {
        return CheckResult::new(
            id,
            Status::Unknown,
            format!(
                "{} lie in .sched.text, which this stack source hides",
                report.hidden_targets.join(", ")
            ),
        );
    }
    if report.tasks_seen > 0 && report.unreadable.len() == report.tasks_seen {
        return CheckResult::new(
            id,
            Status::Unknown,
            format!("no stack readable: {}", report.unreadable[0].reason),
        );
    }
    let mut blocking: Vec<String> = report
        .blocking()
        .map(|b| format!("{} ({}): {}", b.pid, b.comm, b.prediction.phrase()))
        .collect();
    let listed = blocking.len();
    if listed > LISTED_BLOCKERS {
        blocking.truncate(LISTED_BLOCKERS);
        blocking.push(format!("and {} more", listed - LISTED_BLOCKERS));
    }
    let never = report.count(Prediction::NeverWithoutForce);
    let seen = format!("{} tasks seen", report.tasks_seen);
    if never > 0 {
        CheckResult::new(
            id,
            Status::Fail,
            format!(
                "{seen}; {never} would never switch: {}",
                blocking.join(", ")
            ),
        )
    } else if !blocking.is_empty() || !report.unreadable.is_empty() {
        let mut parts = vec![seen];
        if listed > 0 {
            parts.push(format!("{listed} blocking now: {}", blocking.join(", ")));
        }
        if !report.unreadable.is_empty() {
            parts.push(format!(
                "{} unreadable stacks (they may hold a target)",
                report.unreadable.len()
            ));
        }
        CheckResult::new(id, Status::Warn, parts.join("; "))
    } else {
        CheckResult::new(id, Status::Pass, format!("{seen}; none holds a target"))
    }
}

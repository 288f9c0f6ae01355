//! Which tasks hold a patch target on their stacks, what kind of task each is, and whether
//! (and when) the livepatch core would switch it.
//!
//! Pure functions over a [`StackSnapshot`], a [`Kallsyms`] and the patch's [`ResolvedTarget`]s,
//! so they are tested with synthetic snapshots. The model is the kernel's consistency model
//! (`kernel/livepatch/transition.c`): a task switches when no return address on its stack lies
//! in `[start, start + size)` of a patched function (`klp_check_stack_func`), or when it
//! returns to user space; after 15 s the core sends a fake signal that wakes interruptibly
//! sleeping user tasks (and interruptible kthreads, which go back to their loop).

use lpcheck_analyzer::kernel::kallsyms::{Kallsyms, KernelObject};
use lpcheck_analyzer::kernel::regions::TextRegion;
use lpcheck_analyzer::kernel::targets::{resolve, TargetResolution};
use lpcheck_analyzer::kernel::KernelFacts;
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::rules::glob;
use lpcheck_analyzer::rules::{Check, RuleSet};
use lpcheck_ebpf::{KernelStack, SourceLimit, StackSnapshot, StackSource, TaskStack, TaskState};
use schemars::JsonSchema;
use serde::Serialize;

use super::symbolize::{raw_frames, FrameOrigin, RawFrame};

/// Name of the rule whose name patterns list the functions always on some task's stack.
const ALWAYS_ON_STACK_RULE: &str = "always-on-stack";

/// Whether a text range is the function itself or a part GCC split off it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// The function's symbol: the range the kernel checks.
    Main,
    /// A `NAME.cold` part: old code the kernel does not check on stacks.
    Cold,
}

/// One text range of a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TextPart {
    /// Symbol name (`f` or `f.cold`).
    pub name: String,
    /// Main function or cold part.
    pub kind: PartKind,
    /// Start address, when the symbol table shows addresses.
    pub start: Option<u64>,
    /// Size (distance to the next text symbol), when known.
    pub size: Option<u64>,
}

impl TextPart {
    fn contains(&self, address: u64) -> bool {
        match (self.start, self.size) {
            (Some(start), Some(size)) => address >= start && address - start < size,
            _ => false,
        }
    }
}

/// A patched function as found in the kernel's symbol table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ResolvedTarget {
    /// The patched object.
    pub object: KernelObject,
    /// The patched function.
    pub name: String,
    /// Its `old_sympos`.
    pub sympos: u64,
    /// Named by the always-on-stack rule.
    pub always_on_stack: bool,
    /// Lies in `.sched.text`, which stack unwinders for `/proc` and BPF leave out.
    pub in_sched_text: bool,
    /// The function and its cold parts; empty when unresolved.
    pub parts: Vec<TextPart>,
    /// Why it could not be resolved to an address, if it could not.
    pub unresolved: Option<Unresolved>,
}

impl ResolvedTarget {
    /// `object:name`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.object, self.name)
    }
}

/// The name patterns of the always-on-stack rule in `rules` (none when it is disabled).
pub fn always_on_stack_patterns(rules: &RuleSet) -> Vec<String> {
    rules
        .rules
        .iter()
        .filter(|rule| rule.enabled && rule.name == ALWAYS_ON_STACK_RULE)
        .filter_map(|rule| match &rule.check {
            Check::TargetName { names } => Some(names.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Resolves every patched function of `patch` in `facts` (as the livepatch core does, by
/// object, name and `old_sympos`), with its `.cold` parts.
pub fn resolve_targets(
    patch: &PatchModule,
    facts: &KernelFacts,
    always_on_stack: &[String],
) -> Vec<ResolvedTarget> {
    patch
        .patched_functions()
        .map(|(object, function)| {
            let name = &function.old_name;
            let mut target = ResolvedTarget {
                object: object.clone(),
                name: name.clone(),
                sympos: function.old_sympos,
                always_on_stack: always_on_stack
                    .iter()
                    .any(|pattern| glob::matches(pattern, name)),
                in_sched_text: false,
                parts: Vec::new(),
                unresolved: None,
            };
            let resolution = resolve(facts, object, name, function.old_sympos);
            target.unresolved = Unresolved::of(&resolution);
            if let TargetResolution::Resolved(located) = resolution {
                target.in_sched_text = located.region == Some(TextRegion::Sched);
                target.parts.push(TextPart {
                    name: name.clone(),
                    kind: PartKind::Main,
                    start: located.address,
                    size: located.size,
                });
                if let Some(symbols) = facts.symbols.value() {
                    target.parts.extend(cold_parts(symbols, object, name));
                }
            }
            target
        })
        .collect()
}

/// The `NAME.cold` and `NAME.cold.N` symbols of `object`.
fn cold_parts(symbols: &Kallsyms, object: &KernelObject, name: &str) -> Vec<TextPart> {
    let cold = format!("{name}.cold");
    let numbered = format!("{cold}.");
    symbols
        .symbols()
        .iter()
        .filter(|symbol| symbols.object(symbol) == object)
        .filter(|symbol| {
            let symbol_name = symbols.name(symbol);
            symbol_name == cold || symbol_name.starts_with(&numbered)
        })
        .map(|symbol| TextPart {
            name: symbols.name(symbol).to_owned(),
            kind: PartKind::Cold,
            start: (!symbols.addresses_hidden()).then_some(symbol.address),
            size: symbols.size_at(symbol.address),
        })
        .collect()
}

/// Why a target has no address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Unresolved {
    /// No symbol table to look in, and why.
    SymbolsUnknown(String),
    /// The target's module is not loaded.
    ModuleNotLoaded,
    /// No symbol of that name in the object.
    Missing,
    /// This many symbols share the name and `old_sympos` is 0.
    Ambiguous(usize),
    /// `old_sympos` is beyond the symbols of that name (this many).
    SymposInvalid(usize),
    /// Resolved, but the symbol table hides addresses.
    AddressHidden,
}

impl Unresolved {
    fn of(resolution: &TargetResolution) -> Option<Self> {
        match resolution {
            TargetResolution::Unknown(reason) => Some(Self::SymbolsUnknown(reason.clone())),
            TargetResolution::ObjectAbsent => Some(Self::ModuleNotLoaded),
            TargetResolution::Missing => Some(Self::Missing),
            TargetResolution::Ambiguous(addresses) => Some(Self::Ambiguous(addresses.len())),
            TargetResolution::SymposInvalid { count } => Some(Self::SymposInvalid(*count)),
            TargetResolution::Resolved(located) if located.address.is_none() => {
                Some(Self::AddressHidden)
            }
            TargetResolution::Resolved(_) => None,
        }
    }
}

impl Unresolved {
    /// Whether tasks could hold the target unseen: false only for a module that is not loaded
    /// (no task can be in its code; the patch applies when it loads).
    pub fn hides_blockers(&self) -> bool {
        *self != Self::ModuleNotLoaded
    }
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SymbolsUnknown(reason) => write!(f, "symbol table unknown: {reason}"),
            Self::ModuleNotLoaded => f.write_str("its module is not loaded"),
            Self::Missing => f.write_str("no such symbol"),
            Self::Ambiguous(count) => {
                write!(f, "{count} symbols of that name and old_sympos 0")
            }
            Self::SymposInvalid(count) => {
                write!(f, "old_sympos beyond the {count} symbols of that name")
            }
            Self::AddressHidden => f.write_str("the symbol table hides addresses"),
        }
    }
}

/// What kind of task a blocker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskClass {
    /// A kernel thread: never returns to user space.
    Kthread,
    /// Process 1 (init): cannot be killed to get it out of the way.
    Init,
    /// A user task in uninterruptible sleep: the fake signal does not wake it.
    UninterruptibleSleep,
    /// A user task inside a system call (or another kernel entry).
    UserInSyscall,
}

impl TaskClass {
    /// Classifies a task.
    pub fn of(task: &TaskStack) -> Self {
        if task.is_kthread {
            Self::Kthread
        } else if task.tgid == 1 {
            Self::Init
        } else if task.state == TaskState::Uninterruptible {
            Self::UninterruptibleSleep
        } else {
            Self::UserInSyscall
        }
    }
}

/// When the livepatch core would switch a task that holds a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// It would switch now: its only old code is in `.cold` parts, which the kernel does not
    /// check (so it runs old code after switching).
    Now,
    /// Running through a target: switches when it leaves it or returns to user space.
    WhenItLeaves,
    /// A user task sleeping interruptibly: the fake signal (after ~15 s) ends the system call
    /// and it switches on the way back to user space.
    AfterSignalRound,
    /// A user task in uninterruptible (or stopped) sleep: the fake signal does not wake it; it
    /// switches when the sleep ends.
    WhenSleepEnds,
    /// A sleeping kthread holding a target, or any kthread holding an always-on-stack target:
    /// it never leaves the function, so only `force` completes the transition.
    NeverWithoutForce,
}

impl Prediction {
    /// Whether the task keeps the transition from completing at this moment.
    pub fn blocks(self) -> bool {
        self != Self::Now
    }

    /// A short phrase for the human report.
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Now => {
                "would switch now (old code only in .cold parts, which the kernel does not check)"
            }
            Self::WhenItLeaves => "running: switches when it leaves the target",
            Self::AfterSignalRound => "switches after the fake-signal round (~15 s)",
            Self::WhenSleepEnds => "switches only when its sleep ends (signals do not wake it)",
            Self::NeverWithoutForce => "never switches without force",
        }
    }
}

/// Predicts when a task holding targets would switch; `always_on_stack` says whether a main
/// (kernel-checked) match is an always-on-stack function, `main_match` whether any match is
/// in a range the kernel checks.
pub fn predict(task: &TaskStack, main_match: bool, always_on_stack: bool) -> Prediction {
    if !main_match {
        return Prediction::Now;
    }
    let running = task.state == TaskState::Running;
    match (task.is_kthread, task.state) {
        (true, _) if always_on_stack || !running => Prediction::NeverWithoutForce,
        (true, _) | (false, TaskState::Running) => Prediction::WhenItLeaves,
        (false, TaskState::Interruptible) => Prediction::AfterSignalRound,
        (false, _) => Prediction::WhenSleepEnds,
    }
}

/// How a frame was matched to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// Its address lies in the target's range.
    Address,
    /// Its name and object are the target's (the `/proc` source has no addresses; same-named
    /// static functions cannot be told apart).
    Name,
}

/// A frame of a task that lies in a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TargetMatch {
    /// The target (`object:name`).
    pub target: String,
    /// The part the frame lies in.
    pub part: String,
    /// Main function or cold part.
    pub kind: PartKind,
    /// The frame (`name+0xoff [module]`).
    pub frame: String,
    /// Reported frame or raw-scan candidate.
    pub origin: FrameOrigin,
    /// By address or by name.
    pub matched_by: MatchedBy,
}

/// A task whose stack holds a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Blocker {
    /// Thread id.
    pub pid: u32,
    /// Process id.
    pub tgid: u32,
    /// Thread name.
    pub comm: String,
    /// Scheduler state.
    #[schemars(schema_with = "task_state_schema")]
    pub state: TaskState,
    /// Kind of task.
    pub class: TaskClass,
    /// When it would switch.
    pub prediction: Prediction,
    /// The frames in targets, innermost first.
    pub matches: Vec<TargetMatch>,
}

/// A task whose stack could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Unreadable {
    /// Thread id.
    pub pid: u32,
    /// Thread name.
    pub comm: String,
    /// Why.
    pub reason: String,
}

/// The JSON shape of [`TaskState`] (its `json_name`): lpcheck-ebpf does not derive schemas.
fn task_state_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The scheduler state: running, interruptible, uninterruptible, stopped, traced, dead, zombie, parked, idle, or other_<bits> for state bits the kernel does not report",
        "type": "string",
        "pattern": "^(running|interruptible|uninterruptible|stopped|traced|dead|zombie|parked|idle|other_[0-9A-Za-z]+)$"
    })
}

/// The JSON shape of [`StackSource`] (tagged by `kind`): lpcheck-ebpf does not derive schemas.
fn stack_source_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Which source produced the stacks",
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "kind": { "const": "bpf_task_iter" },
                    "candidate_scan": { "oneOf": [
                        { "type": "object", "properties": {
                            "kind": { "const": "enabled" },
                            "words": { "type": "integer", "minimum": 0 } },
                          "required": ["kind", "words"], "additionalProperties": false },
                        { "type": "object", "properties": {
                            "kind": { "const": "disabled" },
                            "reason": { "type": "string" } },
                          "required": ["kind", "reason"], "additionalProperties": false }
                    ] },
                    "completeness": { "oneOf": [
                        { "type": "object", "properties": {
                            "kind": { "const": "checked" },
                            "read_from_proc": { "type": "array",
                                "items": { "type": "integer", "minimum": 0 } } },
                          "required": ["kind", "read_from_proc"], "additionalProperties": false },
                        { "type": "object", "properties": {
                            "kind": { "const": "unchecked" },
                            "reason": { "type": "string" } },
                          "required": ["kind", "reason"], "additionalProperties": false }
                    ] }
                },
                "required": ["kind", "candidate_scan", "completeness"],
                "additionalProperties": false
            },
            {
                "type": "object",
                "properties": {
                    "kind": { "const": "proc_fs" },
                    "bpf_unavailable": { "type": ["string", "null"] }
                },
                "required": ["kind", "bpf_unavailable"],
                "additionalProperties": false
            }
        ]
    })
}

/// The blockers in one snapshot, with what the snapshot cannot see.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BlockerReport {
    /// The stack source.
    #[schemars(schema_with = "stack_source_schema")]
    pub source: StackSource,
    /// What the source cannot see, in words.
    pub limits: Vec<String>,
    /// The targets as resolved.
    pub targets: Vec<ResolvedTarget>,
    /// Targets in `.sched.text` that this snapshot cannot see on stacks (hidden by the
    /// unwinder, and no raw-scan candidates): blockers through them are missed.
    pub hidden_targets: Vec<String>,
    /// Tasks in the snapshot (without the observer's).
    pub tasks_seen: usize,
    /// Tasks whose stacks could not be read.
    pub unreadable: Vec<Unreadable>,
    /// Tasks holding a target, by pid.
    pub blockers: Vec<Blocker>,
}

impl BlockerReport {
    /// The tasks that keep the transition from completing now.
    pub fn blocking(&self) -> impl Iterator<Item = &Blocker> {
        self.blockers.iter().filter(|b| b.prediction.blocks())
    }

    /// Whether the snapshot shows no blocker and nothing that hides one: no unreadable stack,
    /// no hidden or unresolved target.
    pub fn is_clear(&self) -> bool {
        self.blocking().next().is_none()
            && self.unreadable.is_empty()
            && self.hidden_targets.is_empty()
            && self.targets.iter().all(|t| {
                !t.unresolved
                    .as_ref()
                    .is_some_and(Unresolved::hides_blockers)
            })
    }

    /// How many blockers have each prediction.
    pub fn count(&self, prediction: Prediction) -> usize {
        self.blockers
            .iter()
            .filter(|b| b.prediction == prediction)
            .count()
    }
}

/// Finds, classifies and predicts the blockers of `targets` in `snapshot`. The threads of
/// process `observer` (the reader itself, whose thread sits in `read()` while it takes the
/// snapshot) are left out.
pub fn find_blockers(
    snapshot: &StackSnapshot,
    symbols: &Kallsyms,
    targets: &[ResolvedTarget],
    observer: Option<u32>,
) -> BlockerReport {
    let limits = snapshot.limits();
    let scans = snapshot.tasks.iter().any(|t| !t.candidates.is_empty());
    let hides_sched = limits.contains(&SourceLimit::HidesSchedulerFrames);
    let hidden_targets = targets
        .iter()
        .filter(|t| t.in_sched_text && hides_sched && !scans)
        .map(ResolvedTarget::label)
        .collect();
    let mut unreadable = Vec::new();
    let mut blockers = Vec::new();
    let observed = snapshot
        .tasks
        .iter()
        .filter(|task| Some(task.tgid) != observer);
    let mut tasks_seen = 0;
    for task in observed {
        tasks_seen += 1;
        if let KernelStack::Unavailable(reason) = &task.stack {
            unreadable.push(Unreadable {
                pid: task.pid,
                comm: task.comm.clone(),
                reason: reason.clone(),
            });
            continue;
        }
        let matches = match_frames(task, symbols, targets);
        if matches.is_empty() {
            continue;
        }
        let main = matches.iter().filter(|m| m.kind == PartKind::Main);
        let always = main.clone().any(|m| {
            targets
                .iter()
                .any(|t| t.always_on_stack && t.label() == m.target)
        });
        blockers.push(Blocker {
            pid: task.pid,
            tgid: task.tgid,
            comm: task.comm.clone(),
            state: task.state,
            class: TaskClass::of(task),
            prediction: predict(task, main.count() > 0, always),
            matches,
        });
    }
    blockers.sort_by_key(|b| b.pid);
    BlockerReport {
        source: snapshot.source.clone(),
        limits: limits.iter().map(ToString::to_string).collect(),
        targets: targets.to_vec(),
        hidden_targets,
        tasks_seen,
        unreadable,
        blockers,
    }
}

/// The frames of `task` that lie in a target part. Frames are compared as the snapshot holds
/// them (addresses, or a `/proc` frame's name and module); only a matching frame is symbolized,
/// for its text, so a snapshot of thousands of stacks costs no name lookups for the others.
fn match_frames(
    task: &TaskStack,
    symbols: &Kallsyms,
    targets: &[ResolvedTarget],
) -> Vec<TargetMatch> {
    let mut matches = Vec::new();
    for (frame, origin) in raw_frames(task) {
        for target in targets {
            for part in &target.parts {
                let matched_by = match frame {
                    RawFrame::Address(address) if part.contains(address) => MatchedBy::Address,
                    RawFrame::Symbol(symbol)
                        if symbol.name == part.name
                            && KernelObject::from_module_name(symbol.module.as_deref())
                                == target.object =>
                    {
                        MatchedBy::Name
                    }
                    _ => continue,
                };
                matches.push(TargetMatch {
                    target: target.label(),
                    part: part.name.clone(),
                    kind: part.kind,
                    frame: frame.symbolize(symbols, origin).describe(),
                    origin,
                    matched_by,
                });
            }
        }
    }
    matches
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Synthetic kernels and snapshots for the blocker and safe-moment tests.

    use std::path::Path;

    use lpcheck_analyzer::kernel::kallsyms::{Kallsyms, KernelObject};
    use lpcheck_analyzer::patch::PatchModule;
    use lpcheck_analyzer::testing::{Func, ModuleSpec};
    use lpcheck_ebpf::{
        CandidateScan, Completeness, Frame, KernelStack, StackSnapshot, StackSource, SymbolOffset,
        TaskStack, TaskState,
    };

    use super::{PartKind, ResolvedTarget, TextPart};

    /// A small kernel: `ksys_read` with a cold part, scheduler text, a module.
    pub const KALLSYMS: &str = "\
ffffffff81000000 T _stext
ffffffff81100000 T vfs_read
ffffffff81100200 T ksys_read
ffffffff81100300 t helper
ffffffff81180000 t ksys_read.cold
ffffffff81180040 t other.cold
ffffffff81200000 T __sched_text_start
ffffffff81200000 T schedule
ffffffff81200100 t do_nanosleep
ffffffff81200200 T __sched_text_end
ffffffff81300000 T kthread
ffffffff81300100 T ret_from_fork
ffffffffc0001000 t lpc_target_sleep\t[lpc_target]
ffffffffc0001100 t lpc_target_thread\t[lpc_target]
";

    /// The fixture's symbol table.
    pub fn symbols() -> Kallsyms {
        Kallsyms::parse(KALLSYMS, Path::new("kallsyms")).expect("fixture parses")
    }

    /// A synthetic livepatch module patching `(object, function)` pairs (`None` is vmlinux).
    pub fn patch(targets: &[(Option<&'static str>, &'static str)]) -> PatchModule {
        let mut spec = ModuleSpec::patching("unused");
        spec.objects = targets
            .iter()
            .map(|&(object, old_name)| {
                let func = Func {
                    old_name,
                    sympos: 0,
                    new_func: "livepatch_new",
                };
                (object, vec![func])
            })
            .collect();
        PatchModule::from_bytes(Path::new("lp_test.ko"), &spec.build()).expect("fixture module")
    }

    /// A resolved target with one main part.
    pub fn target(object: KernelObject, name: &str, start: u64, size: u64) -> ResolvedTarget {
        ResolvedTarget {
            object,
            name: name.to_owned(),
            sympos: 0,
            always_on_stack: false,
            in_sched_text: false,
            parts: vec![TextPart {
                name: name.to_owned(),
                kind: PartKind::Main,
                start: Some(start),
                size: Some(size),
            }],
            unresolved: None,
        }
    }

    /// A task with address frames.
    pub fn task(pid: u32, state: TaskState, kthread: bool, frames: &[u64]) -> TaskStack {
        TaskStack {
            pid,
            tgid: pid,
            comm: format!("task{pid}"),
            state,
            is_kthread: kthread,
            on_cpu: Some(state == TaskState::Running),
            stack: KernelStack::Frames {
                frames: frames.iter().map(|&a| Frame::Address(a)).collect(),
                depth_limit_reached: false,
            },
            candidates: Vec::new(),
        }
    }

    /// A task with `/proc`-style named frames.
    pub fn named_task(pid: u32, state: TaskState, frames: &[(&str, Option<&str>)]) -> TaskStack {
        let mut task = task(pid, state, false, &[]);
        task.stack = KernelStack::Frames {
            frames: frames
                .iter()
                .map(|(name, module)| {
                    Frame::Symbol(SymbolOffset {
                        name: (*name).to_owned(),
                        offset: 0x10,
                        size: 0x100,
                        module: module.map(str::to_owned),
                    })
                })
                .collect(),
            depth_limit_reached: false,
        };
        task
    }

    /// A BPF snapshot with candidate scanning.
    pub fn bpf_snapshot(tasks: Vec<TaskStack>) -> StackSnapshot {
        StackSnapshot {
            source: StackSource::BpfTaskIter {
                candidate_scan: CandidateScan::Enabled { words: 256 },
                completeness: Completeness::Checked {
                    read_from_proc: Vec::new(),
                },
            },
            tasks,
        }
    }

    /// A `/proc` snapshot.
    pub fn proc_snapshot(tasks: Vec<TaskStack>) -> StackSnapshot {
        StackSnapshot {
            source: StackSource::ProcFs {
                bpf_unavailable: Some("test".to_owned()),
            },
            tasks,
        }
    }
}

#[cfg(test)]
mod tests {
    use lpcheck_analyzer::kernel::kallsyms::KernelObject;
    use lpcheck_analyzer::kernel::{Fact, KernelFacts};
    use lpcheck_ebpf::{KernelStack, TaskState};

    use super::fixtures::*;
    use super::*;

    const KSYS_READ: u64 = 0xffff_ffff_8110_0200;
    const VFS_READ: u64 = 0xffff_ffff_8110_0000;
    const KSYS_READ_COLD: u64 = 0xffff_ffff_8118_0000;
    const DO_NANOSLEEP: u64 = 0xffff_ffff_8120_0100;
    const KTHREAD: u64 = 0xffff_ffff_8130_0000;
    const LPC_TARGET_SLEEP: u64 = 0xffff_ffff_c000_1000;

    fn lpc_target() -> KernelObject {
        KernelObject::Module("lpc_target".to_owned())
    }

    #[test]
    fn resolves_targets_with_cold_parts_sched_text_and_always_on_stack() {
        let facts = KernelFacts::from_parts(
            Fact::unknown("test"),
            Fact::known(symbols(), "fixture"),
            Fact::unknown("test"),
        );
        let patch = patch(&[
            (None, "ksys_read"),
            (None, "do_nanosleep"),
            (Some("lpc_target"), "lpc_target_sleep"),
            (None, "no_such_function"),
        ]);
        let patterns = vec!["do_nano*".to_owned()];
        let targets = resolve_targets(&patch, &facts, &patterns);
        assert_eq!(targets.len(), 4);
        let read = &targets[0];
        assert_eq!(
            read.parts
                .iter()
                .map(|p| (p.name.as_str(), p.kind, p.start, p.size))
                .collect::<Vec<_>>(),
            [
                ("ksys_read", PartKind::Main, Some(KSYS_READ), Some(0x100)),
                (
                    "ksys_read.cold",
                    PartKind::Cold,
                    Some(KSYS_READ_COLD),
                    Some(0x40)
                ),
            ]
        );
        assert!(!read.in_sched_text && !read.always_on_stack);
        assert!(targets[1].in_sched_text && targets[1].always_on_stack);
        assert_eq!(targets[2].object, lpc_target());
        assert_eq!(targets[2].parts[0].start, Some(LPC_TARGET_SLEEP));
        assert_eq!(targets[3].unresolved, Some(Unresolved::Missing));
        assert!(targets[3].parts.is_empty());
    }

    #[test]
    fn default_rules_name_always_on_stack_functions() {
        let patterns = always_on_stack_patterns(&RuleSet::default_rules());
        assert!(patterns.iter().any(|p| p == "schedule"));
        assert!(patterns.iter().any(|p| p == "kthread"));
    }

    #[test]
    fn classifies_and_predicts_each_kind_of_blocker() {
        let targets = vec![
            target(KernelObject::Vmlinux, "ksys_read", KSYS_READ, 0x100),
            target(lpc_target(), "lpc_target_sleep", LPC_TARGET_SLEEP, 0x100),
        ];
        let mut init = task(1, TaskState::Interruptible, false, &[KSYS_READ + 8]);
        init.tgid = 1;
        let snapshot = bpf_snapshot(vec![
            task(
                10,
                TaskState::Interruptible,
                false,
                &[KSYS_READ + 0x10, VFS_READ],
            ),
            task(11, TaskState::Uninterruptible, false, &[KSYS_READ + 0x10]),
            task(12, TaskState::Running, false, &[KSYS_READ + 0x10]),
            task(
                13,
                TaskState::Idle,
                true,
                &[LPC_TARGET_SLEEP + 0x20, KTHREAD],
            ),
            task(14, TaskState::Interruptible, false, &[VFS_READ + 4]),
            init,
        ]);
        let report = find_blockers(&snapshot, &symbols(), &targets, None);
        let seen: Vec<(u32, TaskClass, Prediction)> = report
            .blockers
            .iter()
            .map(|b| (b.pid, b.class, b.prediction))
            .collect();
        assert_eq!(
            seen,
            [
                (1, TaskClass::Init, Prediction::AfterSignalRound),
                (10, TaskClass::UserInSyscall, Prediction::AfterSignalRound),
                (
                    11,
                    TaskClass::UninterruptibleSleep,
                    Prediction::WhenSleepEnds
                ),
                (12, TaskClass::UserInSyscall, Prediction::WhenItLeaves),
                (13, TaskClass::Kthread, Prediction::NeverWithoutForce),
            ]
        );
        let kthread = &report.blockers[4];
        assert_eq!(
            kthread.matches[0].frame,
            "lpc_target_sleep+0x20 [lpc_target]"
        );
        assert_eq!(kthread.matches[0].matched_by, MatchedBy::Address);
        assert_eq!(report.tasks_seen, 6);
        assert!(!report.is_clear());
        assert_eq!(report.count(Prediction::AfterSignalRound), 2);
    }

    #[test]
    fn range_end_is_exclusive_and_the_next_function_does_not_match() {
        let targets = vec![target(KernelObject::Vmlinux, "ksys_read", KSYS_READ, 0x100)];
        let snapshot = bpf_snapshot(vec![
            task(20, TaskState::Interruptible, false, &[KSYS_READ + 0x100]),
            task(21, TaskState::Interruptible, false, &[KSYS_READ + 0xff]),
            task(22, TaskState::Interruptible, false, &[KSYS_READ - 1]),
        ]);
        let report = find_blockers(&snapshot, &symbols(), &targets, None);
        let pids: Vec<u32> = report.blockers.iter().map(|b| b.pid).collect();
        assert_eq!(pids, [21]);
    }

    #[test]
    fn running_kthread_in_always_on_stack_target_never_switches() {
        let mut kthread = target(KernelObject::Vmlinux, "kthread", KTHREAD, 0x100);
        kthread.always_on_stack = true;
        let snapshot = bpf_snapshot(vec![
            task(30, TaskState::Running, true, &[KTHREAD + 4]),
            task(31, TaskState::Running, false, &[KTHREAD + 4]),
        ]);
        let report = find_blockers(&snapshot, &symbols(), &[kthread], None);
        assert_eq!(report.blockers[0].prediction, Prediction::NeverWithoutForce);
        assert_eq!(report.blockers[1].prediction, Prediction::WhenItLeaves);
    }

    #[test]
    fn cold_part_alone_does_not_block_but_is_reported() {
        let mut read = target(KernelObject::Vmlinux, "ksys_read", KSYS_READ, 0x100);
        read.parts.push(TextPart {
            name: "ksys_read.cold".to_owned(),
            kind: PartKind::Cold,
            start: Some(KSYS_READ_COLD),
            size: Some(0x40),
        });
        let snapshot = bpf_snapshot(vec![task(
            40,
            TaskState::Interruptible,
            false,
            &[KSYS_READ_COLD + 8],
        )]);
        let report = find_blockers(&snapshot, &symbols(), &[read], None);
        assert_eq!(report.blockers.len(), 1);
        assert_eq!(report.blockers[0].prediction, Prediction::Now);
        assert_eq!(report.blockers[0].matches[0].kind, PartKind::Cold);
        assert!(report.is_clear());
    }

    #[test]
    fn proc_frames_match_by_name_and_object() {
        let targets = vec![
            target(lpc_target(), "lpc_target_sleep", LPC_TARGET_SLEEP, 0x100),
            target(KernelObject::Vmlinux, "ksys_read", KSYS_READ, 0x100),
        ];
        let mut kthread = named_task(
            50,
            TaskState::Idle,
            &[("lpc_target_sleep", Some("lpc_target")), ("kthread", None)],
        );
        kthread.is_kthread = true;
        let snapshot = proc_snapshot(vec![
            kthread,
            // Same name in another object: not the target.
            named_task(
                51,
                TaskState::Interruptible,
                &[("ksys_read", Some("other"))],
            ),
            named_task(52, TaskState::Interruptible, &[("ksys_read", None)]),
        ]);
        let report = find_blockers(&snapshot, &symbols(), &targets, None);
        let seen: Vec<(u32, MatchedBy)> = report
            .blockers
            .iter()
            .map(|b| (b.pid, b.matches[0].matched_by))
            .collect();
        assert_eq!(seen, [(50, MatchedBy::Name), (52, MatchedBy::Name)]);
    }

    #[test]
    fn sched_text_target_is_hidden_from_proc_but_seen_in_bpf_candidates() {
        let mut sleep = target(KernelObject::Vmlinux, "do_nanosleep", DO_NANOSLEEP, 0x100);
        sleep.in_sched_text = true;
        let targets = vec![sleep];
        let proc = proc_snapshot(vec![named_task(
            60,
            TaskState::Interruptible,
            &[("hrtimer_nanosleep", None)],
        )]);
        let report = find_blockers(&proc, &symbols(), &targets, None);
        assert_eq!(report.hidden_targets, ["vmlinux:do_nanosleep"]);
        assert!(report.blockers.is_empty());
        assert!(!report.is_clear(), "a hidden target must not look clear");

        let mut sleeper = task(61, TaskState::Interruptible, false, &[VFS_READ]);
        sleeper.candidates = vec![DO_NANOSLEEP + 0x30];
        let report = find_blockers(&bpf_snapshot(vec![sleeper]), &symbols(), &targets, None);
        assert!(report.hidden_targets.is_empty());
        assert_eq!(report.blockers[0].matches[0].origin, FrameOrigin::Candidate);
        assert_eq!(report.blockers[0].prediction, Prediction::AfterSignalRound);
    }

    #[test]
    fn the_observer_process_is_left_out() {
        let targets = vec![target(KernelObject::Vmlinux, "ksys_read", KSYS_READ, 0x100)];
        let mut reader = task(80, TaskState::Running, false, &[KSYS_READ + 8]);
        reader.tgid = 79;
        let other = task(81, TaskState::Interruptible, false, &[KSYS_READ + 8]);
        let report = find_blockers(
            &bpf_snapshot(vec![reader, other]),
            &symbols(),
            &targets,
            Some(79),
        );
        assert_eq!(report.tasks_seen, 1);
        assert_eq!(report.blockers.len(), 1);
        assert_eq!(report.blockers[0].pid, 81);
    }

    #[test]
    fn unreadable_stacks_are_listed_and_block_clearance() {
        let mut hidden = task(70, TaskState::Interruptible, false, &[]);
        hidden.stack = KernelStack::Unavailable("permission denied".to_owned());
        let report = find_blockers(&bpf_snapshot(vec![hidden]), &symbols(), &[], None);
        assert_eq!(report.unreadable[0].reason, "permission denied");
        assert!(!report.is_clear());
    }
}

//! The fail-closed gate: which kernel facts each error rule needs, and which of those are
//! unknown for this check.
//!
//! A check may only `accept` when every enabled error-severity rule could run. When a fact such
//! a rule needs is unknown (no symbol table, ftrace list unreadable, a target module not in the
//! symbol table, ...), the verdict is `inconclusive` and the report lists each [`MissingFact`]
//! with the rules it held back and how to provide it.

use schemars::JsonSchema;
use serde::Serialize;

use crate::kernel::ftrace::Hookability;
use crate::kernel::kallsyms::KernelObject;
use crate::kernel::targets::{resolve, TargetResolution};
use crate::kernel::{Fact, KernelFacts};
use crate::patch::PatchModule;
use crate::report::Severity;
use crate::rules::{Check, RuleSet};

/// A kernel fact a rule can need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    /// The kernel release (`uname -r`), compared with the module's vermagic.
    KernelRelease,
    /// The kernel's symbol table (kallsyms or System.map).
    SymbolTable,
    /// Real addresses in the symbol table (kallsyms shows zeros to unprivileged readers).
    SymbolAddresses,
    /// The symbols of a target module (`/proc/kallsyms` with the module loaded, or the
    /// module's `.ko`).
    ModuleSymbols,
    /// Which functions ftrace can hook (`available_filter_functions` or `__mcount_loc`).
    FtraceFunctions,
}

impl FactKind {
    /// What the fact is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::KernelRelease => "the kernel release",
            Self::SymbolTable => "the kernel symbol table",
            Self::SymbolAddresses => "the kernel's symbol addresses",
            Self::ModuleSymbols => "a target module's symbols",
            Self::FtraceFunctions => "which functions ftrace can hook",
        }
    }

    /// How to provide the fact.
    pub fn how_to_provide(self) -> &'static str {
        match self {
            Self::KernelRelease => {
                "pass --facts BUNDLE (`lpcheck facts collect` on the target, or `lpcheck facts from-package`), or --kernel-release"
            }
            Self::SymbolTable => {
                "pass --facts BUNDLE, or --kallsyms FILE (/proc/kallsyms read as root, or the kernel's System.map), or --vmlinux with a symbol table"
            }
            Self::SymbolAddresses => {
                "read /proc/kallsyms as root (kptr_restrict shows zeros otherwise), or pass --facts BUNDLE or a System.map"
            }
            Self::ModuleSymbols => {
                "pass --facts BUNDLE collected with the module loaded, or built by `lpcheck facts from-package` (it reads the package's .ko symbol tables)"
            }
            Self::FtraceFunctions => {
                "pass --facts BUNDLE, or --ftrace-functions FILE (tracefs available_filter_functions[_addrs] read as root), or --vmlinux (its __mcount_loc)"
            }
        }
    }
}

impl Check {
    /// The kernel facts this check needs to run at all.
    pub fn needs(&self) -> &'static [FactKind] {
        use FactKind::*;
        match self {
            Self::TargetName { .. }
            | Self::NotLivepatchModule
            | Self::NoPatchedFunctions
            | Self::FactUnknown
            | Self::UnusedWaiver
            | Self::AtomicReplace
            | Self::InlinedCopy
            | Self::PrototypeMismatch
            | Self::TargetKthreadRest
            | Self::TargetKthreadLoop => &[],
            Self::TargetRegion { .. } | Self::NewCodeCallsRegion { .. } => {
                &[SymbolTable, SymbolAddresses, ModuleSymbols]
            }
            Self::TargetMissing
            | Self::TargetObjectAbsent
            | Self::TargetAmbiguous
            | Self::TargetSymposInvalid
            | Self::KlpSymbolUnresolvable
            | Self::StaticDataCopy
            | Self::UnpatchedCopy => &[SymbolTable, ModuleSymbols],
            Self::TargetNotFtraceable => {
                &[SymbolTable, SymbolAddresses, ModuleSymbols, FtraceFunctions]
            }
            Self::VermagicMismatch => &[KernelRelease],
        }
    }
}

/// A fact an error rule needed and did not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MissingFact {
    /// Which fact.
    pub fact: FactKind,
    /// What it is about, when narrower than the whole kernel (`object:function`, or a module).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Why it is unknown.
    pub reason: String,
    /// How to provide it.
    pub provide: &'static str,
    /// The ids of the error rules that could not run because of it.
    pub rules: Vec<String>,
}

/// Every fact the enabled error rules of `rules` need that is unknown for `patch`.
pub fn missing_facts(
    patch: &PatchModule,
    facts: &KernelFacts,
    rules: &RuleSet,
) -> Vec<MissingFact> {
    let unknowns = unknown_facts(patch, facts);
    let mut missing: Vec<MissingFact> = Vec::new();
    for (fact, subject, reason) in unknowns {
        let held_back: Vec<String> = rules
            .rules
            .iter()
            .filter(|r| {
                r.enabled && r.severity == Severity::Error && r.check.needs().contains(&fact)
            })
            .map(|r| r.id.clone())
            .collect();
        if held_back.is_empty() {
            continue;
        }
        missing.push(MissingFact {
            fact,
            subject,
            reason,
            provide: fact.how_to_provide(),
            rules: held_back,
        });
    }
    missing
}

/// The unknown facts, whole-kernel first, then per target.
fn unknown_facts(
    patch: &PatchModule,
    facts: &KernelFacts,
) -> Vec<(FactKind, Option<String>, String)> {
    let mut unknown = Vec::new();
    if let Fact::Unknown { reason } = &facts.release {
        unknown.push((FactKind::KernelRelease, None, reason.clone()));
    }
    match &facts.symbols {
        Fact::Unknown { reason } => {
            unknown.push((FactKind::SymbolTable, None, reason.clone()));
        }
        Fact::Known { value, source } if value.addresses_hidden() => unknown.push((
            FactKind::SymbolAddresses,
            None,
            format!("{source} shows every address as 0"),
        )),
        Fact::Known { .. } => {}
    }
    let whole_ftrace_unknown = if let Fact::Unknown { reason } = &facts.ftrace {
        unknown.push((FactKind::FtraceFunctions, None, reason.clone()));
        true
    } else {
        false
    };
    for (object, function) in patch.patched_functions() {
        let subject = format!("{object}:{}", function.old_name);
        match resolve(facts, object, &function.old_name, function.old_sympos) {
            TargetResolution::ObjectAbsent => {
                let KernelObject::Module(module) = object else {
                    continue;
                };
                unknown.push((
                    FactKind::ModuleSymbols,
                    Some(subject),
                    format!("module `{module}` is not in {}", facts.symbols.describe()),
                ));
            }
            TargetResolution::Resolved(located) if !whole_ftrace_unknown => {
                if let Hookability::Unknown(reason) = located.hookability {
                    unknown.push((FactKind::FtraceFunctions, Some(subject), reason));
                }
            }
            _ => {}
        }
    }
    unknown
}

#[cfg(test)]
mod tests;

//! What lpcheck knows about the kernel a patch is checked against.
//!
//! The analyzer never reads the running system: the caller gathers these facts, from the live
//! host or from files, and hands them in. A fact that could not be gathered is [`Fact::Unknown`]
//! with the reason, and the rules report it instead of passing silently.

pub mod bundle;
pub mod ftrace;
pub mod kallsyms;
pub mod kthread_loops;
pub mod kthreads;
mod line_scan;
mod list_text;
mod memo;
pub mod regions;
pub mod targets;
pub mod vmlinux;

use crate::debuginfo::DebugKnowledge;
use ftrace::{FtraceIndex, FtraceList, Hookability};
use kallsyms::{Kallsyms, KernelObject, KernelSymbol};
use kthread_loops::KthreadLoops;
use kthreads::KthreadStacks;
use regions::TextRegions;

pub use crate::model::Fact;

/// Everything known about the target kernel.
#[derive(Debug, Clone)]
pub struct KernelFacts {
    /// The kernel release (`uname -r`), to compare with a module's vermagic.
    pub release: Fact<String>,
    /// The symbol table.
    pub symbols: Fact<Kallsyms>,
    /// Which function addresses ftrace can hook.
    pub ftrace: Fact<FtraceIndex>,
    /// Special text regions (init, sched, noinstr, ...), from the symbol table's markers.
    pub regions: TextRegions,
    /// What a vmlinux with debug information says about the patched functions (inline sites,
    /// callers, prototypes); `None` when no `--vmlinux` was given.
    pub debuginfo: Option<DebugKnowledge>,
    /// Where the host's kthreads were sleeping (a facts bundle's `kthread-stacks.tsv`) and where
    /// that came from; `None` when not given.
    pub kthread_stacks: Option<(KthreadStacks, String)>,
    /// Where the kthreads rest, found statically in the vmlinux's code (`--vmlinux`), or why
    /// that could not be read; `None` when no vmlinux was given.
    pub kthread_loops: Option<Fact<KthreadLoops>>,
}

/// How one function name resolves in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The symbol table is unknown.
    Unknown(String),
    /// The object (a module) is not in the symbol table: not loaded, checked when it loads.
    ObjectAbsent,
    /// No symbol of that name in the object.
    Missing,
    /// The symbols of that name in the object, in sympos order (position 1 first).
    Found(Vec<KernelSymbol>),
}

impl KernelFacts {
    /// Facts with nothing known, each with the same reason.
    pub fn unknown(reason: &str) -> Self {
        Self {
            release: Fact::unknown(reason),
            symbols: Fact::unknown(reason),
            ftrace: Fact::unknown(reason),
            regions: TextRegions::default(),
            debuginfo: None,
            kthread_stacks: None,
            kthread_loops: None,
        }
    }

    /// Builds facts from a symbol table and an optional ftrace list, deriving regions and the
    /// ftrace index from them.
    pub fn from_parts(
        release: Fact<String>,
        symbols: Fact<Kallsyms>,
        ftrace: Fact<FtraceList>,
    ) -> Self {
        let regions = symbols
            .value()
            .map(TextRegions::from_kallsyms)
            .unwrap_or_default();
        let ftrace = match (ftrace, symbols.value()) {
            (Fact::Known { value, source }, Some(table)) if !table.addresses_hidden() => {
                Fact::known(FtraceIndex::new(value), source)
            }
            (Fact::Known { source, .. }, Some(_)) => Fact::unknown(format!(
                "{source} could not be resolved to addresses: the symbol table hides addresses"
            )),
            (Fact::Known { source, .. }, None) => Fact::unknown(format!(
                "{source} could not be resolved to addresses: no symbol table"
            )),
            (Fact::Unknown { reason }, _) => Fact::Unknown { reason },
        };
        Self {
            release,
            symbols,
            ftrace,
            regions,
            debuginfo: None,
            kthread_stacks: None,
            kthread_loops: None,
        }
    }

    /// Resolves `name` in `object`, as the livepatch core would.
    pub fn resolve(&self, object: &KernelObject, name: &str) -> Resolution {
        let Some(table) = self.symbols.value() else {
            return Resolution::Unknown(self.symbols.describe().to_string());
        };
        let found: Vec<KernelSymbol> = table.lookup(object, name).collect();
        if !found.is_empty() {
            return Resolution::Found(found);
        }
        match object {
            KernelObject::Module(module) if !table.has_module(module) => Resolution::ObjectAbsent,
            _ => Resolution::Missing,
        }
    }

    /// Whether ftrace can hook the function starting at `address`.
    pub fn hookability(&self, address: u64) -> Hookability {
        match (&self.ftrace, self.symbols.value()) {
            (Fact::Known { value, .. }, Some(table)) => value.hookability(address, table),
            (Fact::Known { source, .. }, None) => Hookability::Unknown(format!(
                "{source} could not be resolved to addresses: no symbol table"
            )),
            (Fact::Unknown { reason }, _) => Hookability::Unknown(reason.clone()),
        }
    }
}

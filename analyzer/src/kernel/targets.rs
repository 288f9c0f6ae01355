//! How each patched function resolves in the kernel: the facts every target rule reads.

use crate::kernel::ftrace::Hookability;
use crate::kernel::kallsyms::KernelObject;
use crate::kernel::regions::TextRegion;
use crate::kernel::{KernelFacts, Resolution};
use crate::patch::PatchedFunction;

/// Where a `(object, name, sympos)` triple lands in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetResolution {
    /// No symbol table to look in.
    Unknown(String),
    /// The object is a module that is not loaded.
    ObjectAbsent,
    /// No symbol of that name.
    Missing,
    /// Several symbols of that name while sympos is 0; their addresses in sympos order.
    Ambiguous(Vec<u64>),
    /// sympos beyond the number of symbols of that name.
    SymposInvalid {
        /// How many symbols share the name.
        count: usize,
    },
    /// Exactly one symbol.
    Resolved(Located),
}

/// A resolved symbol and what is known of its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Its address, unless the symbol table hides addresses.
    pub address: Option<u64>,
    /// Its size, as far as the symbol table tells.
    pub size: Option<u64>,
    /// The special region it lies in.
    pub region: Option<TextRegion>,
    /// Whether ftrace can hook it.
    pub hookability: Hookability,
}

/// A patched function with its resolution.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The patched object.
    pub object: &'a KernelObject,
    /// The patch's entry.
    pub function: &'a PatchedFunction,
    /// Where it lands.
    pub resolution: TargetResolution,
}

impl Target<'_> {
    /// `object:name`, the form findings and waivers use.
    pub fn label(&self) -> String {
        format!("{}:{}", self.object, self.function.old_name)
    }
}

/// Resolves `name` at position `sympos` in `object`, as `klp_find_object_symbol` does.
pub fn resolve(
    facts: &KernelFacts,
    object: &KernelObject,
    name: &str,
    sympos: u64,
) -> TargetResolution {
    let symbols = match facts.resolve(object, name) {
        Resolution::Unknown(reason) => return TargetResolution::Unknown(reason),
        Resolution::ObjectAbsent => return TargetResolution::ObjectAbsent,
        Resolution::Missing => return TargetResolution::Missing,
        Resolution::Found(symbols) => symbols,
    };
    let chosen = match (sympos, symbols.len()) {
        (0, 1) => symbols[0],
        (0, _) => return TargetResolution::Ambiguous(symbols.iter().map(|s| s.address).collect()),
        (position, count) if position as usize > count => {
            return TargetResolution::SymposInvalid { count }
        }
        (position, _) => symbols[position as usize - 1],
    };
    let hidden = facts
        .symbols
        .value()
        .is_some_and(super::kallsyms::Kallsyms::addresses_hidden);
    if hidden {
        return TargetResolution::Resolved(Located {
            address: None,
            size: None,
            region: None,
            hookability: Hookability::Unknown("the symbol table hides addresses".into()),
        });
    }
    let address = chosen.address;
    TargetResolution::Resolved(Located {
        address: Some(address),
        size: facts.symbols.value().and_then(|t| t.size_at(address)),
        region: facts.regions.region_of(address),
        hookability: facts.hookability(address),
    })
}

//! Whether the compared object is built into vmlinux or into a module, which decides whether
//! jump labels and static calls in patched code can be supported.

use schemars::JsonSchema;
use serde::Serialize;

use crate::elf::{ElfObject, Placement};

/// Where the object's code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PatchTarget {
    /// Built into the kernel image.
    Vmlinux,
    /// Part of a loadable module.
    Module,
}

/// What is known about the patch target and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TargetFact {
    /// The target, when it could be told.
    pub kind: Option<PatchTarget>,
    /// Why: the marker found, the user's choice, or why nothing could be told.
    pub evidence: String,
}

impl TargetFact {
    /// A target the user stated.
    pub fn given(kind: PatchTarget) -> Self {
        Self {
            kind: Some(kind),
            evidence: "given on the command line".to_string(),
        }
    }

    /// Looks for module markers in `model`: `.modinfo` entries without a built-in name prefix,
    /// a reference to `__this_module`, or `init_module`/`cleanup_module`.
    pub fn detect(model: &ElfObject<'_>) -> Self {
        if let Some(section) = model.section_named(".modinfo") {
            let entries: Vec<&[u8]> = model.sections[section]
                .data
                .split(|&b| b == 0)
                .filter(|e| !e.is_empty())
                .collect();
            let key = |entry: &[u8]| entry.split(|&b| b == b'=').next().map(<[u8]>::to_vec);
            if let Some(entry) = entries
                .iter()
                .find(|e| key(e).is_some_and(|k| !k.contains(&b'.')))
            {
                return Self {
                    kind: Some(PatchTarget::Module),
                    evidence: format!(
                        ".modinfo entry `{}` has no built-in module prefix",
                        String::from_utf8_lossy(entry)
                    ),
                };
            }
            if let Some(entry) = entries.first() {
                return Self {
                    kind: Some(PatchTarget::Vmlinux),
                    evidence: format!(
                        ".modinfo entry `{}` carries a built-in module prefix",
                        String::from_utf8_lossy(entry)
                    ),
                };
            }
        }
        for name in ["__this_module", "init_module", "cleanup_module"] {
            let found = model.symbols_named(name).iter().any(|&s| {
                name == "__this_module" || model.symbols[s].placement != Placement::Undefined
            });
            if found {
                return Self {
                    kind: Some(PatchTarget::Module),
                    evidence: format!("the object refers to or defines `{name}`"),
                };
            }
        }
        Self {
            kind: None,
            evidence: "no .modinfo, __this_module or init_module/cleanup_module in the object"
                .to_string(),
        }
    }
}

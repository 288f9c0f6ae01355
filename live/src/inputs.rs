//! What the commands gather before they check or apply a module: the rule set and what the
//! running kernel's BTF says about the replacements.

use std::path::Path;

use anyhow::Result;
use lpcheck_analyzer::debuginfo::{self, DebugKnowledge, Query};
use lpcheck_analyzer::patch::PatchModule;
use lpcheck_analyzer::rules::RuleSet;

/// Where the running kernel exposes its BTF.
const RUNNING_KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The default rules plus the user's files.
pub fn rule_set(files: &[impl AsRef<Path>]) -> Result<RuleSet> {
    let mut rules = RuleSet::default_rules();
    for file in files {
        rules.merge_file(file.as_ref())?;
    }
    Ok(rules)
}

/// The replacements' prototypes against the running kernel's BTF (inline sites and callers need
/// the debug vmlinux and are not looked for); `file` holds the module's bytes.
pub fn running_kernel_prototypes(module: &PatchModule, file: &Path) -> Result<DebugKnowledge> {
    let btf =
        std::fs::read(RUNNING_KERNEL_BTF).map_err(|error| format!("{RUNNING_KERNEL_BTF}: {error}"));
    Ok(debuginfo::prototypes_from_btf(
        btf,
        RUNNING_KERNEL_BTF,
        file,
        &queries(module),
    )?)
}

/// One debug-information question per patched function.
pub fn queries(module: &PatchModule) -> Vec<Query> {
    module
        .patched_functions()
        .map(|(object, function)| Query {
            object: object.clone(),
            function: function.old_name.clone(),
            sympos: function.old_sympos,
            replacement: function.new_func.clone(),
        })
        .collect()
}

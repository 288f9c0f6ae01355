//! Kernel facts read from the running host: `/proc/kallsyms`, tracefs, `osrelease`.
//!
//! Every fact that cannot be read becomes `Fact::Unknown` with the path and the error (EPERM on
//! tracefs is common in containers), so the analyzer reports it instead of passing silently.

use std::path::Path;

use lpcheck_analyzer::kernel::ftrace::FtraceList;
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::{Fact, KernelFacts};

/// Where tracefs may be mounted, newest first.
const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Reads the running kernel's facts.
pub fn running_kernel_facts() -> KernelFacts {
    KernelFacts::from_parts(release(), kallsyms(), ftrace_list())
}

/// The running kernel's release.
pub fn release() -> Fact<String> {
    let path = Path::new("/proc/sys/kernel/osrelease");
    match std::fs::read_to_string(path) {
        Ok(text) => Fact::known(text.trim().to_string(), "running kernel"),
        Err(error) => Fact::unknown(format!("{}: {error}", path.display())),
    }
}

fn kallsyms() -> Fact<Kallsyms> {
    let path = Path::new("/proc/kallsyms");
    match Kallsyms::from_file(path) {
        Ok(table) => Fact::known(table, path.display().to_string()),
        Err(error) => Fact::unknown(error.to_string()),
    }
}

/// The ftrace function list: `available_filter_functions_addrs` when the kernel has it (exact
/// addresses), else `available_filter_functions`.
fn ftrace_list() -> Fact<FtraceList> {
    let mut reasons = Vec::new();
    for root in TRACEFS_ROOTS {
        for name in [
            "available_filter_functions_addrs",
            "available_filter_functions",
        ] {
            let path = Path::new(root).join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    return match FtraceList::parse(&text, &path) {
                        Ok(list) => Fact::known(list, path.display().to_string()),
                        Err(error) => Fact::unknown(error.to_string()),
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => reasons.push(format!("{}: {error}", path.display())),
            }
        }
    }
    if reasons.is_empty() {
        reasons.push("no tracefs with an ftrace function list (is tracefs mounted?)".into());
    }
    Fact::unknown(reasons.join("; "))
}

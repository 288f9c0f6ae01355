//! tracefs `enabled_functions`: the functions with an ftrace handler attached, one per line:
//!
//! ```text
//! NAME [MODULE] (COUNT) R I D O M  tramp: ADDR (HANDLER+0x0/0x...) ->...
//! ```
//!
//! Mounted at `/sys/kernel/tracing`, and under debugfs at `/sys/kernel/debug/tracing` on
//! kernels (or hosts) without the tracefs mount.

use std::path::{Path, PathBuf};

/// The handler livepatch registers with ftrace: its entries are livepatch's own.
const KLP_HANDLER: &str = "klp_ftrace_handler";

/// Where `enabled_functions` may be on a host whose root is `/`, in order.
pub const DEFAULT_FILES: [&str; 2] = [
    "/sys/kernel/tracing/enabled_functions",
    "/sys/kernel/debug/tracing/enabled_functions",
];

/// One line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnabledEntry {
    /// Function name.
    pub name: String,
    /// Its module, when printed (`[mod]`).
    pub module: Option<String>,
    /// An ftrace user modifies the return address (`I`).
    pub ipmodify: bool,
    /// A direct call (`D`): a BPF trampoline or another direct user.
    pub direct: bool,
    /// Livepatch's own handler is attached.
    pub by_livepatch: bool,
    /// The line as read, trimmed.
    pub line: String,
}

/// The file read and its entries, or why none of the candidates could be read.
pub type EnabledFunctions = Result<(PathBuf, Vec<EnabledEntry>), String>;

/// Reads the first of `files` that exists.
pub fn read(files: &[impl AsRef<Path>]) -> EnabledFunctions {
    let mut reasons = Vec::new();
    for path in files {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => return Ok((path.to_path_buf(), parse(&text))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => reasons.push(format!(
                "{}: not found (tracefs not mounted?)",
                path.display()
            )),
            Err(error) => reasons.push(format!("{}: {error}", path.display())),
        }
    }
    Err(reasons.join("; "))
}

/// Parses the whole file; lines it cannot read are skipped.
pub fn parse(text: &str) -> Vec<EnabledEntry> {
    text.lines().filter_map(parse_line).collect()
}

/// Parses `name [mod] (count) R I D O M  tramp: ...`.
fn parse_line(line: &str) -> Option<EnabledEntry> {
    let mut words = line.split_whitespace().peekable();
    let name = words.next()?.to_owned();
    let module = words
        .next_if(|word| word.starts_with('['))
        .map(|word| word.trim_matches(['[', ']']).to_owned());
    words.next_if(|word| word.starts_with('('))?;
    let flags: Vec<&str> = words
        .take_while(|word| word.len() == 1 && word.chars().all(|c| c.is_ascii_uppercase()))
        .collect();
    Some(EnabledEntry {
        name,
        module,
        ipmodify: flags.contains(&"I"),
        direct: flags.contains(&"D") || line.contains("direct-->"),
        by_livepatch: line.contains(KLP_HANDLER),
        line: line.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_enabled_functions_lines() {
        let klp = parse_line(
            "cmdline_proc_show (1) R I       tramp: 0xffffffffc0201000 \
             (klp_ftrace_handler+0x0/0x1c0) ->ftrace_ops_assist_func+0x0/0xf0",
        )
        .unwrap();
        assert!(klp.ipmodify && klp.by_livepatch && !klp.direct);
        assert_eq!(klp.module, None);
        let bpf =
            parse_line("lpc_target_sleep [lpc_target] (1) R   D   \tdirect-->0xffffffffc0005000")
                .unwrap();
        assert_eq!(bpf.module.as_deref(), Some("lpc_target"));
        assert!(bpf.direct && !bpf.ipmodify && !bpf.by_livepatch);
        assert_eq!(parse_line(""), None);
    }

    #[test]
    fn falls_back_to_the_debugfs_mount_and_says_why_when_neither_reads() {
        let dir = tempfile::tempdir().unwrap();
        let tracefs = dir.path().join("tracing/enabled_functions");
        let debugfs = dir.path().join("debug/tracing/enabled_functions");
        std::fs::create_dir_all(debugfs.parent().unwrap()).unwrap();
        std::fs::write(
            &debugfs,
            "do_exit (1)   \t->function_trace_call+0x0/0x140\n",
        )
        .unwrap();
        let (path, entries) = read(&[&tracefs, &debugfs]).unwrap();
        assert_eq!(path, debugfs);
        assert_eq!(entries[0].name, "do_exit");
        std::fs::remove_file(&debugfs).unwrap();
        let reason = read(&[&tracefs, &debugfs]).unwrap_err();
        assert!(
            reason.contains("tracing/enabled_functions: not found"),
            "{reason}"
        );
        assert!(reason.contains("debug/tracing"), "{reason}");
    }
}

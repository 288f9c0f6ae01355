//! debugfs `kprobes/list`: the registered kprobes, one per line, as `report_probe()` in
//! kernel/kprobes.c prints them:
//!
//! ```text
//! ADDR  TYPE  SYMBOL+0xOFFSET  MODNAME [GONE][DISABLED][OPTIMIZED][FTRACE]
//! ```
//!
//! `MODNAME` is printed bare (a space for vmlinux); the flags follow joined, without spaces.
//! A probe whose address has no symbol prints `%pS` instead (`SYMBOL+0xOFF/0xSIZE [MODNAME]`).

use std::path::Path;

/// The status flags `report_probe()` appends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KprobeFlags {
    /// `[GONE]`: its module was unloaded.
    pub gone: bool,
    /// `[DISABLED]`: registered but disarmed.
    pub disabled: bool,
    /// `[OPTIMIZED]`: a jump instead of a breakpoint.
    pub optimized: bool,
    /// `[FTRACE]`: it sits on the function's ftrace call site and hooks it through ftrace.
    pub ftrace: bool,
}

/// One registered kprobe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kprobe {
    /// The probed function.
    pub function: String,
    /// The offset of the probe in it.
    pub offset: u64,
    /// The function's module; `None` for vmlinux.
    pub module: Option<String>,
    /// Its flags.
    pub flags: KprobeFlags,
    /// The line as read, trimmed.
    pub line: String,
}

impl Kprobe {
    /// Whether it is armed (neither disabled nor gone with its module).
    pub fn is_active(&self) -> bool {
        !(self.flags.disabled || self.flags.gone)
    }

    /// Whether it holds the function's ftrace call site, as livepatch needs it: an armed
    /// ftrace-based kprobe. With a post handler it registers ftrace with IPMODIFY and
    /// livepatch's own registration fails with EBUSY; without one it stops seeing calls once
    /// the patch is active. (The site is at `+0x4` on kernels with IBT: the flag says it,
    /// the offset does not.)
    pub fn holds_ftrace_site(&self) -> bool {
        self.is_active() && self.flags.ftrace
    }
}

/// Parses the whole list; lines it cannot read are skipped.
pub fn parse(text: &str) -> Vec<Kprobe> {
    text.lines().filter_map(parse_line).collect()
}

/// Reads and parses the list at `path`.
pub fn read(path: &Path) -> std::io::Result<Vec<Kprobe>> {
    std::fs::read_to_string(path).map(|text| parse(&text))
}

fn parse_line(line: &str) -> Option<Kprobe> {
    let mut fields = line.split_whitespace();
    let _address = fields.next()?;
    let _kind = fields.next()?;
    let (function, offset) = fields.next()?.split_once('+')?;
    let offset = offset.split('/').next()?;
    let offset = u64::from_str_radix(offset.strip_prefix("0x")?, 16).ok()?;
    let mut module = None;
    let mut flags = KprobeFlags::default();
    for field in fields {
        let Some(bracketed) = field.strip_prefix('[') else {
            module = Some(field.to_owned());
            continue;
        };
        for part in bracketed.split(['[', ']']).filter(|p| !p.is_empty()) {
            match part {
                "GONE" => flags.gone = true,
                "DISABLED" => flags.disabled = true,
                "OPTIMIZED" => flags.optimized = true,
                "FTRACE" => flags.ftrace = true,
                name => module = Some(name.to_owned()),
            }
        }
    }
    Some(Kprobe {
        function: function.to_owned(),
        offset,
        module,
        flags,
        line: line.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_joined_flags_and_bare_module_names() {
        let probes = parse(
            "ffffffff8134a2d0  k  cmdline_proc_show+0x0    [DISABLED][FTRACE]\n\
             ffffffffc0201014  k  lpc_target_sleep+0x4  lpc_target [OPTIMIZED]\n\
             ffffffffc0201010  r  lpc_target_sleep+0x0/0x40 [lpc_target] [GONE][FTRACE]\n\
             ffffffff81000004  k  do_exit+0x4    [FTRACE]\n\
             garbage\n",
        );
        assert_eq!(probes.len(), 4);
        assert_eq!(probes[0].function, "cmdline_proc_show");
        assert_eq!(probes[0].module, None, "flags are not a module");
        assert_eq!(
            probes[0].flags,
            KprobeFlags {
                disabled: true,
                ftrace: true,
                ..KprobeFlags::default()
            }
        );
        assert!(!probes[0].holds_ftrace_site());
        assert_eq!(probes[1].module.as_deref(), Some("lpc_target"));
        assert_eq!(probes[1].offset, 4);
        assert!(probes[1].flags.optimized && !probes[1].holds_ftrace_site());
        assert_eq!(probes[2].module.as_deref(), Some("lpc_target"));
        assert!(probes[2].flags.gone && !probes[2].is_active());
        assert_eq!(probes[3].offset, 4);
        assert!(
            probes[3].holds_ftrace_site(),
            "IBT kernels put the site at +0x4"
        );
    }

    #[test]
    fn parses_kprobe_list_lines() {
        let probe = &parse("ffffffff8113b4e0  k  cmdline_proc_show+0x0    [FTRACE]")[0];
        assert_eq!(probe.function, "cmdline_proc_show");
        assert_eq!(probe.offset, 0);
        assert!(probe.flags.ftrace && probe.is_active());
        assert_eq!(probe.module, None);
        let probe = &parse("ffffffffc0001010  r  lpc_target_sleep+0x10 [lpc_target] [DISABLED]")[0];
        assert_eq!(probe.module.as_deref(), Some("lpc_target"));
        assert_eq!(probe.offset, 0x10);
        assert!(!probe.is_active() && !probe.flags.ftrace);
    }

    #[test]
    fn parses_kprobe_lines_with_and_without_module() {
        let probes = parse(
            "ffffffff8134a2d0  k  cmdline_proc_show+0x0    [FTRACE]\n\
             ffffffffc0201010  k  lpc_target_sleep+0x4  lpc_target [DISABLED]\n\
             ffffffff81000000  r  do_exit+0x0/0x40 [OPTIMIZED]\n\
             garbage\n",
        );
        assert_eq!(probes.len(), 3);
        assert_eq!(probes[0].function, "cmdline_proc_show");
        assert_eq!(probes[0].module, None);
        assert_eq!(
            probes[0].flags,
            KprobeFlags {
                ftrace: true,
                ..KprobeFlags::default()
            }
        );
        assert_eq!(probes[1].module.as_deref(), Some("lpc_target"));
        assert_eq!(probes[1].offset, 4);
        assert_eq!(
            probes[2].flags,
            KprobeFlags {
                optimized: true,
                ..KprobeFlags::default()
            }
        );
    }
}

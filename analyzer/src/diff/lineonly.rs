//! Recognizing changes that only move `__LINE__`: a WARN, might_sleep, printk or subsystem
//! error-helper call site passes its line number as an immediate (`mov $0x1f7,%esi`), so
//! adding a line above it changes the function's bytes without changing what it does. The
//! callees are data: `rules/diff-line-macros.toml`.

use std::sync::OnceLock;

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Register};
use serde::Deserialize;

use super::compare::{Pair, Region};
use super::correlate::{role, Role};
use super::resolve::Target;

/// The line-taking callees and what may sit between a line immediate and its call, as data
/// (`rules/diff-line-macros.toml`, after kpatch's `kpatch_line_macro_change_only`).
const LINE_MACROS_TOML: &str = include_str!("../../../rules/diff-line-macros.toml");

/// Names matched exactly or by prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameSet {
    #[serde(default)]
    exact: Vec<String>,
    #[serde(default)]
    prefix: Vec<String>,
}

impl NameSet {
    fn contains(&self, name: &str) -> bool {
        self.exact.iter().any(|e| e == name) || self.prefix.iter().any(|p| name.starts_with(p))
    }
}

/// The parsed `rules/diff-line-macros.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineMacros {
    /// Functions that take a source line number as an argument.
    callees: NameSet,
    /// Symbols allowed between the immediate and the call.
    between: NameSet,
}

fn line_macros() -> &'static LineMacros {
    static TABLE: OnceLock<LineMacros> = OnceLock::new();
    TABLE.get_or_init(|| {
        toml::from_str(LINE_MACROS_TOML).expect("rules/diff-line-macros.toml parses (unit-tested)")
    })
}

/// Registers the line number is passed in (second to fourth argument).
const LINE_REGISTERS: &[Register] = &[Register::ESI, Register::EDX, Register::ECX];

/// Whether regions `o` and `p` (same length, equal relocations) differ only in immediate line
/// numbers passed to a line-taking function.
pub fn only_line_numbers_differ(pair: &Pair<'_, '_>, o: Region, p: Region) -> bool {
    let o_bytes = pair.orig.model.sections[o.section].bytes(o.start, o.end);
    let p_bytes = pair.patched.model.sections[p.section].bytes(p.start, p.end);
    if o_bytes.len() != p_bytes.len() || o_bytes.len() as u64 != o.length() {
        return false;
    }
    let mut o_decoder = Decoder::with_ip(64, o_bytes, 0, DecoderOptions::NONE);
    let mut p_decoder = Decoder::with_ip(64, p_bytes, 0, DecoderOptions::NONE);
    let (mut a, mut b) = (Instruction::default(), Instruction::default());
    let mut line_changes = 0;
    while o_decoder.can_decode() {
        let at = o_decoder.position();
        o_decoder.decode_out(&mut a);
        p_decoder.decode_out(&mut b);
        if a.len() != b.len() {
            return false;
        }
        let end = at + a.len();
        if o_bytes[at..end] == p_bytes[at..end] {
            continue;
        }
        let is_line_move = |i: &Instruction| {
            i.code() == Code::Mov_r32_imm32 && LINE_REGISTERS.contains(&i.op0_register())
        };
        if !is_line_move(&a) || !is_line_move(&b) || a.op0_register() != b.op0_register() {
            return false;
        }
        if !next_call_takes_a_line(pair, o, end as u64) {
            return false;
        }
        line_changes += 1;
    }
    line_changes > 0
}

/// Whether the first relocation after `after` (relative to the region start) that is not a
/// string or a per-call-site static names a line-taking function.
fn next_call_takes_a_line(pair: &Pair<'_, '_>, o: Region, after: u64) -> bool {
    let model = pair.orig.model;
    let section = &model.sections[o.section];
    let range = section.reloc_range(o.start + after, o.end);
    for target in &pair.orig.resolution.targets(o.section)[range] {
        match *target {
            Target::Place { section: s, .. } if model.sections[s].is_strings() => continue,
            Target::Symbol { symbol, .. } => {
                let name = model.symbols[symbol].name;
                if role(model, symbol) == Role::PerSite || line_macros().between.contains(name) {
                    continue;
                }
                return line_macros().callees.contains(name);
            }
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_macro_table_parses_and_has_the_reference_callees() {
        let table = line_macros();
        for name in [
            "warn_slowpath_fmt",
            "__warn_printk",
            "__might_sleep",
            "_printk",
            "lockdep_rcu_suspicious",
            "__btrfs_abort_transaction",
            "__btrfs_handle_fs_error",
            "__btrfs_panic",
        ] {
            assert!(table.callees.contains(name), "{name}");
        }
        assert!(!table.callees.contains("kmalloc"));
        assert!(table.between.contains("__warned.12"));
        assert!(!table.between.contains("counter.3"));
    }
}

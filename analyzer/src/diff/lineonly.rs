//! Recognizing changes that only move `__LINE__`: a WARN, might_sleep or printk call site
//! passes its line number as an immediate (`mov $0x1f7,%esi`), so adding a line above it
//! changes the function's bytes without changing what it does.

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Register};

use super::compare::{Pair, Region};
use super::correlate::{role, Role};
use super::resolve::Target;

/// Functions that take a source line number as an argument.
const LINE_TAKING_CALLEES: &[&str] = &[
    "__warn_printk",
    "__warn",
    "__might_sleep",
    "___might_sleep",
    "__might_resched",
    "__might_fault",
    "__cant_sleep",
    "__cant_migrate",
    "printk",
    "_printk",
    "lockdep_rcu_suspicious",
];

/// Prefix of the older WARN helpers (`warn_slowpath_null`, `warn_slowpath_fmt`, ...).
const WARN_SLOWPATH_PREFIX: &str = "warn_slowpath_";

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
                if role(model, symbol) == Role::PerSite {
                    continue;
                }
                let name = model.symbols[symbol].name;
                return name.starts_with(WARN_SLOWPATH_PREFIX)
                    || LINE_TAKING_CALLEES.contains(&name);
            }
            _ => return false,
        }
    }
    false
}

//! Where the kernel finds a hand-written module's patch: the `struct klp_patch *` passed to
//! `klp_enable_patch()`, normally from the module's init function.
//!
//! The x86_64 calling convention passes the first argument in `%rdi`. A kbuild-made module loads
//! the address of its static `klp_patch` there just before the call, with a relocation:
//! `mov $patch, %rdi` (`R_X86_64_32S`) or `lea patch(%rip), %rdi` (`R_X86_64_PC32`). Each code
//! function is decoded with iced-x86, tracking the last relocated address written to `%rdi`;
//! any other write to `%rdi`, and any other call, forgets it.

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, OpAccess,
    Register,
};
use object::elf;

use crate::elf::{ElfObject, Pointee, SectionId, Symbol, SymbolKind};

/// The livepatch core's entry point a hand-written patch module calls.
pub const KLP_ENABLE_PATCH: &str = "klp_enable_patch";

/// A `klp_enable_patch()` call site and what its first argument points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnableCall {
    /// The function making the call.
    pub caller: String,
    /// The module-local address loaded into `%rdi`, when it could be followed.
    pub argument: Option<(SectionId, u64)>,
}

/// Every `klp_enable_patch()` call (or tail call) in the module's code.
pub fn find(elf: &ElfObject<'_>) -> Vec<EnableCall> {
    let mut calls = Vec::new();
    let mut info = InstructionInfoFactory::new();
    for index in 0..elf.sections.len() {
        if !elf.is_code(index) {
            continue;
        }
        for function in elf.symbols_in(index) {
            if function.kind != SymbolKind::Func || function.size == 0 {
                continue;
            }
            scan_function(elf, index, function, &mut info, &mut calls);
        }
    }
    calls
}

fn scan_function(
    elf: &ElfObject<'_>,
    section: SectionId,
    function: &Symbol<'_>,
    info: &mut InstructionInfoFactory,
    calls: &mut Vec<EnableCall>,
) {
    let Some(code) = usize::try_from(function.size)
        .ok()
        .and_then(|size| elf.bytes_at(section, function.value, size))
    else {
        return;
    };
    let mut decoder = Decoder::with_ip(64, code, function.value, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    let mut rdi: Option<(SectionId, u64)> = None;
    while decoder.can_decode() {
        decoder.decode_out(&mut instruction);
        let start = instruction.ip();
        let end = instruction.next_ip();
        let flow = instruction.flow_control();
        if matches!(
            flow,
            FlowControl::Call | FlowControl::UnconditionalBranch | FlowControl::IndirectCall
        ) {
            let calls_enable = elf.relocs_in(section, start..end).any(|reloc| {
                matches!(reloc.pointee, Pointee::External { name, .. } if name == KLP_ENABLE_PATCH)
            });
            if calls_enable {
                calls.push(EnableCall {
                    caller: function.name.to_string(),
                    argument: rdi,
                });
            }
            if flow != FlowControl::UnconditionalBranch || calls_enable {
                rdi = None;
            }
            continue;
        }
        if loads_rdi_address(&instruction) {
            rdi = relocated_address(elf, section, start, end);
            continue;
        }
        let writes_rdi = info.info(&instruction).used_registers().iter().any(|used| {
            used.register().full_register() == Register::RDI
                && !matches!(
                    used.access(),
                    OpAccess::Read | OpAccess::CondRead | OpAccess::NoMemAccess
                )
        });
        if writes_rdi {
            rdi = None;
        }
    }
}

/// `mov $imm32, %rdi`/`%edi` or `lea disp(%rip), %rdi`/`%edi`.
fn loads_rdi_address(instruction: &Instruction) -> bool {
    matches!(
        instruction.code(),
        Code::Mov_rm64_imm32
            | Code::Mov_r32_imm32
            | Code::Mov_r64_imm64
            | Code::Lea_r64_m
            | Code::Lea_r32_m
    ) && instruction.op0_register().full_register() == Register::RDI
}

/// The module-local address a relocation inside `start..end` stands for (the PC-relative bias
/// of a displacement that ends the instruction is added back).
fn relocated_address(
    elf: &ElfObject<'_>,
    section: SectionId,
    start: u64,
    end: u64,
) -> Option<(SectionId, u64)> {
    let reloc = elf.relocs_in(section, start..end).next()?;
    let place = reloc.offset;
    let Pointee::Local {
        section: target,
        offset,
    } = reloc.pointee
    else {
        return None;
    };
    let offset = match reloc.r_type {
        elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 => offset.wrapping_add(end - place),
        elf::R_X86_64_32 | elf::R_X86_64_32S | elf::R_X86_64_64 => offset,
        _ => return None,
    };
    Some((target, offset))
}

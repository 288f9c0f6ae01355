//! One function's machine code as the kthread analysis reads it: its direct calls (and tail
//! jumps), which of them lie inside a loop, and what the argument registers hold at a call.
//!
//! A loop is a back-edge: a jump from `b` to `t <= b` inside the function; a call at `s` is in a
//! loop when some back-edge has `t <= s <= b`. Code the compiler moved to a separate `.cold`
//! symbol is a function of its own here, so a loop through it is not seen.

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, OpAccess,
    OpKind, Register,
};

/// A direct call (or tail jump) of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CallSite {
    /// The call instruction's address.
    pub at: u64,
    /// The called address.
    pub target: u64,
    /// Whether it lies inside a loop of the function.
    pub in_loop: bool,
    /// Whether it is a jump (a tail call, or into the function's `.cold` part).
    pub jump: bool,
}

/// What the analysis keeps of one function's code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct FunctionCode {
    /// Its direct calls and tail jumps, in address order.
    pub calls: Vec<CallSite>,
    /// Whether it has a `ret` (under return-stack mitigations the compiler emits a jump to the
    /// return thunk instead: a [`CallSite::jump`]).
    pub ret: bool,
}

/// The direct calls of the function whose code is `bytes` at `start`. A jump out of the
/// function counts as a (tail) call.
pub(super) fn calls(bytes: &[u8], start: u64) -> FunctionCode {
    let end = start + bytes.len() as u64;
    let mut decoder = Decoder::with_ip(64, bytes, start, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    let mut sites = Vec::new();
    let mut back_edges: Vec<(u64, u64)> = Vec::new();
    let mut ret = false;
    while decoder.can_decode() {
        decoder.decode_out(&mut instruction);
        if instruction.flow_control() == FlowControl::Return {
            ret = true;
        }
        if instruction.op0_kind() != OpKind::NearBranch64 {
            continue;
        }
        let target = instruction.near_branch_target();
        let inside = (start..end).contains(&target);
        match instruction.flow_control() {
            FlowControl::Call => sites.push((instruction.ip(), target, false)),
            FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch if inside => {
                back_edges.extend((target <= instruction.ip()).then(|| (target, instruction.ip())));
            }
            FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => {
                sites.push((instruction.ip(), target, true));
            }
            _ => {}
        }
    }
    let calls = sites
        .into_iter()
        .map(|(at, target, jump)| CallSite {
            at,
            target,
            in_loop: back_edges.iter().any(|&(t, b)| t <= at && at <= b),
            jump,
        })
        .collect();
    FunctionCode { calls, ret }
}

/// What a register holds, as far as straight-line tracking can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Value {
    /// Not known (written by something the tracking does not follow, or different on two paths).
    Unknown,
    /// A constant: an immediate or a RIP-relative address (`lea sym(%rip)`, `mov $sym`).
    Const(u64),
    /// The function's own `n`-th argument register, unchanged since entry.
    Arg(u8),
}

/// The registers of the System V calling convention's integer arguments, in order.
pub(super) const ARGUMENTS: [Register; 6] = [
    Register::RDI,
    Register::RSI,
    Register::RDX,
    Register::RCX,
    Register::R8,
    Register::R9,
];

/// The registers a call may change (caller-saved).
const CLOBBERED: [Register; 9] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
];

/// The 16 general-purpose registers' values.
type State = [Value; 16];

fn slot(register: Register) -> Option<usize> {
    let full = register.full_register();
    (full.is_gpr64()).then(|| full.number())
}

/// The argument registers' values at each direct call (or tail jump) to an address `wanted`
/// accepts, in the function whose code is `bytes` at `start`: `(call address, target, values
/// of ARGUMENTS)`.
///
/// A forward data flow over the function's instructions: at a join the values of the paths meet
/// (equal or unknown); a call clobbers the caller-saved registers; code reached only through an
/// indirect jump is not followed, and its calls are reported with unknown values.
pub(super) fn arguments_at(
    bytes: &[u8],
    start: u64,
    wanted: impl Fn(u64) -> bool,
) -> Vec<(u64, u64, [Value; 6])> {
    let end = start + bytes.len() as u64;
    let mut decoder = Decoder::with_ip(64, bytes, start, DecoderOptions::NONE);
    let code: Vec<Instruction> = decoder.iter().collect();
    let index_of = |address: u64| code.binary_search_by_key(&address, Instruction::ip).ok();
    let mut entry = [Value::Unknown; 16];
    for (n, register) in (0u8..).zip(ARGUMENTS) {
        if let Some(s) = slot(register) {
            entry[s] = Value::Arg(n);
        }
    }
    let mut states: Vec<Option<State>> = vec![None; code.len()];
    let mut work = Vec::new();
    if !code.is_empty() {
        states[0] = Some(entry);
        work.push(0);
    }
    let mut info = InstructionInfoFactory::new();
    while let Some(index) = work.pop() {
        let instruction = &code[index];
        let state = states[index].expect("queued instructions have a state");
        let after = transfer(instruction, state, &mut info);
        let mut next = Vec::with_capacity(2);
        let flow = instruction.flow_control();
        if !matches!(
            flow,
            FlowControl::UnconditionalBranch
                | FlowControl::IndirectBranch
                | FlowControl::Return
                | FlowControl::Exception
                | FlowControl::Interrupt
        ) && instruction.code() != Code::Ud2
        {
            next.push(index + 1);
        }
        if matches!(
            flow,
            FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
        ) && instruction.op0_kind() == OpKind::NearBranch64
            && (start..end).contains(&instruction.near_branch_target())
        {
            next.extend(index_of(instruction.near_branch_target()));
        }
        for successor in next.into_iter().filter(|&n| n < code.len()) {
            let merged = match states[successor] {
                None => after,
                Some(old) => meet(old, after),
            };
            if states[successor] != Some(merged) {
                states[successor] = Some(merged);
                work.push(successor);
            }
        }
    }
    code.iter()
        .zip(&states)
        .filter(|(instruction, _)| {
            instruction.op0_kind() == OpKind::NearBranch64
                && matches!(
                    instruction.flow_control(),
                    FlowControl::Call | FlowControl::UnconditionalBranch
                )
                && wanted(instruction.near_branch_target())
        })
        .map(|(instruction, state)| {
            let state = state.unwrap_or([Value::Unknown; 16]);
            let values = ARGUMENTS.map(|r| slot(r).map_or(Value::Unknown, |s| state[s]));
            (instruction.ip(), instruction.near_branch_target(), values)
        })
        .collect()
}

fn meet(a: State, b: State) -> State {
    let mut out = a;
    for (value, other) in out.iter_mut().zip(b) {
        if *value != other {
            *value = Value::Unknown;
        }
    }
    out
}

/// The state after `instruction`.
fn transfer(
    instruction: &Instruction,
    mut state: State,
    info: &mut InstructionInfoFactory,
) -> State {
    if instruction.flow_control() == FlowControl::Call {
        for register in CLOBBERED {
            if let Some(s) = slot(register) {
                state[s] = Value::Unknown;
            }
        }
        return state;
    }
    let destination = (instruction.op_count() > 0 && instruction.op0_kind() == OpKind::Register)
        .then(|| instruction.op0_register());
    let width = destination.map_or(0, Register::size);
    let known = match (instruction.code(), instruction.op1_kind()) {
        (
            Code::Mov_r64_imm64 | Code::Mov_rm64_imm32 | Code::Mov_r32_imm32 | Code::Mov_rm32_imm32,
            _,
        ) if width >= 4 => Some(Value::Const(instruction.immediate(1))),
        (Code::Lea_r64_m, _) if instruction.is_ip_rel_memory_operand() => {
            Some(Value::Const(instruction.ip_rel_memory_address()))
        }
        (Code::Mov_r64_rm64 | Code::Mov_rm64_r64, OpKind::Register) => {
            Some(slot(instruction.op1_register()).map_or(Value::Unknown, |s| state[s]))
        }
        (Code::Mov_r32_rm32 | Code::Mov_rm32_r32, OpKind::Register) => {
            match slot(instruction.op1_register()).map(|s| state[s]) {
                Some(Value::Const(value)) => Some(Value::Const(value & 0xffff_ffff)),
                _ => Some(Value::Unknown),
            }
        }
        (Code::Xor_r32_rm32 | Code::Xor_rm32_r32, OpKind::Register)
            if destination == Some(instruction.op1_register()) =>
        {
            Some(Value::Const(0))
        }
        _ => None,
    };
    if let (Some(value), Some(s)) = (known, destination.and_then(slot)) {
        state[s] = value;
        return state;
    }
    for used in info.info(instruction).used_registers() {
        if matches!(
            used.access(),
            OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
        ) {
            if let Some(s) = slot(used.register()) {
                state[s] = Value::Unknown;
            }
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_a_loop_are_marked() {
        // 0x1000 call 0x2000; 0x1005 call 0x3000; 0x100a jmp 0x1005; 0x100c jmp 0x4000
        let code = [
            0xe8, 0xfb, 0x0f, 0x00, 0x00, // call 0x2000
            0xe8, 0xf6, 0x1f, 0x00, 0x00, // call 0x3000
            0xeb, 0xf9, // jmp 0x1005
            0xe9, 0xef, 0x2f, 0x00, 0x00, // jmp 0x4000 (tail call)
        ];
        let function = calls(&code, 0x1000);
        let found: Vec<(u64, bool, bool)> = function
            .calls
            .iter()
            .map(|s| (s.target, s.in_loop, s.jump))
            .collect();
        assert_eq!(
            found,
            [
                (0x2000, false, false),
                (0x3000, true, false),
                (0x4000, false, true)
            ]
        );
        assert!(!function.ret);
        assert!(calls(&[0xc3], 0x1000).ret);
    }

    #[test]
    fn arguments_follow_moves_and_meet_at_joins() {
        let code = [
            0x48, 0x89, 0xfb, // 0x1000 mov rbx, rdi
            0x48, 0xc7, 0xc7, 0x00, 0x00, 0x00, 0x81, // 0x1003 mov rdi, 0xffffffff81000000
            0x48, 0x8d, 0x0d, 0x00, 0x01, 0x00, 0x00, // 0x100a lea rcx, [rip+0x100] = 0x1111
            0xe8, 0xea, 0x0f, 0x00, 0x00, // 0x1011 call 0x2000
            0x48, 0x89, 0xdf, // 0x1016 mov rdi, rbx
            0x85, 0xc0, // 0x1019 test eax, eax
            0x74, 0x05, // 0x101b je 0x1022
            0xbf, 0x34, 0x12, 0x00, 0x00, // 0x101d mov edi, 0x1234
            0xe8, 0xd9, 0x0f, 0x00, 0x00, // 0x1022 call 0x2000
            0xc3,
        ];
        let found = arguments_at(&code, 0x1000, |t| t == 0x2000);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, 0x1011);
        assert_eq!(found[0].2[0], Value::Const(0xffff_ffff_8100_0000));
        assert_eq!(found[0].2[3], Value::Const(0x1111));
        assert_eq!(found[0].2[1], Value::Arg(1));
        // rdi is the caller's rdi on one path and 0x1234 on the other.
        assert_eq!(found[1].2[0], Value::Unknown);
        assert_eq!(found[1].2[3], Value::Unknown, "clobbered by the first call");
        let straight = arguments_at(&code[..0x1d], 0x1000, |t| t == 0x2000);
        assert_eq!(straight.len(), 1);
    }
}

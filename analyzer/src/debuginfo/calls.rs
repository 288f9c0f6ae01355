//! Who calls whom in a linked kernel image: direct `call rel32` (and tail `jmp` to another
//! function's entry) found by disassembling every function with iced-x86. A linked image needs
//! no relocations for these: the displacement is final.

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, OpKind};
use serde::{Deserialize, Serialize};

use crate::elf::functions::{FunctionId, FunctionSymbols};

/// Call edges `(callee, caller)`, sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallIndex {
    edges: Vec<(FunctionId, FunctionId)>,
}

impl CallIndex {
    /// Disassembles the functions lying in `code` (loaded at `base`).
    pub fn build(code: &[u8], base: u64, symbols: &FunctionSymbols) -> Self {
        let mut edges = Vec::new();
        let mut instruction = Instruction::default();
        for (caller, start, end) in symbols.spans() {
            let Some(bytes) =
                start
                    .checked_sub(base)
                    .zip(end.checked_sub(base))
                    .and_then(|(from, to)| {
                        code.get(usize::try_from(from).ok()?..usize::try_from(to).ok()?)
                    })
            else {
                continue;
            };
            let mut decoder = Decoder::with_ip(64, bytes, start, DecoderOptions::NONE);
            while decoder.can_decode() {
                decoder.decode_out(&mut instruction);
                if instruction.op0_kind() != OpKind::NearBranch64 {
                    continue;
                }
                let target = instruction.near_branch_target();
                let callee = match instruction.flow_control() {
                    FlowControl::Call => symbols.containing(target),
                    FlowControl::UnconditionalBranch if !(start..end).contains(&target) => {
                        symbols.starting_at(target)
                    }
                    _ => None,
                };
                if let Some(callee) = callee.filter(|&c| c != caller) {
                    edges.push((callee, caller));
                }
            }
        }
        edges.sort_unstable();
        edges.dedup();
        Self { edges }
    }

    /// The functions that call `callee` directly.
    pub fn callers(&self, callee: FunctionId) -> impl Iterator<Item = FunctionId> + '_ {
        let from = self.edges.partition_point(|&(c, _)| c < callee);
        self.edges[from..]
            .iter()
            .take_while(move |&&(c, _)| c == callee)
            .map(|&(_, caller)| caller)
    }

    /// Whether every edge refers to one of `count` functions (a cached index is checked so).
    pub fn fits(&self, count: u64) -> bool {
        self.edges
            .iter()
            .all(|&(callee, caller)| u64::from(callee.max(caller)) < count)
    }

    /// How many edges.
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_direct_calls_and_tail_calls() {
        // a: call b; jmp c      b: ret      c: call b; ret
        let code = [
            0xe8, 0x0b, 0x00, 0x00, 0x00, // 0x1000 call 0x1010
            0xe9, 0x0b, 0x00, 0x00, 0x00, // 0x1005 jmp 0x1015
            0x90, 0x90, 0x90, 0x90, 0x90, 0x90, // padding
            0xc3, // 0x1010 b: ret
            0x90, 0x90, 0x90, 0x90, // padding
            0xe8, 0xf6, 0xff, 0xff, 0xff, // 0x1015 c: call 0x1010
            0xc3,
        ];
        let mut symbols = FunctionSymbols::default();
        symbols.push("a", 0x1000, 10);
        symbols.push("b", 0x1010, 1);
        symbols.push("c", 0x1015, 6);
        let index = CallIndex::build(&code, 0x1000, &symbols);
        let callers = |id| {
            index
                .callers(id)
                .map(|c| symbols.name(c))
                .collect::<Vec<_>>()
        };
        assert_eq!(callers(1), ["a", "c"]);
        assert_eq!(callers(2), ["a"]);
        assert!(callers(0).is_empty());
        assert_eq!(index.len(), 3);
        assert!(index.fits(3));
        assert!(!index.fits(2));
    }
}

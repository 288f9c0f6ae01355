//! Symbolization of snapshot frames with kallsyms: a reported frame or a raw-scan candidate
//! becomes a function name, its object and the offset into it.
//!
//! Pure: a [`TaskStack`]'s [`RawFrame`]s and a [`Kallsyms`] in, [`SymbolizedFrame`]s out. A
//! frame is symbolized on demand, so a caller that compares addresses first pays for the names
//! of the frames it shows only.

use std::fmt::Write as _;

use lpcheck_analyzer::kernel::kallsyms::{Kallsyms, KernelObject};
use lpcheck_ebpf::{Frame, SymbolOffset, TaskStack};
use schemars::JsonSchema;
use serde::Serialize;

/// Where a frame came from in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrameOrigin {
    /// A frame the kernel's unwinder reported.
    Reported,
    /// A kernel text address found by the raw stack scan: a hidden (scheduler) frame or a
    /// stale value.
    Candidate,
}

/// The function an address or a `/proc` entry lies in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionAt {
    /// Function name.
    pub name: String,
    /// The object holding it.
    pub object: KernelObject,
    /// Bytes from the function's start.
    pub offset: u64,
}

/// One frame with its function, when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolizedFrame {
    /// The return address; `None` for `/proc` frames, which carry names only.
    pub address: Option<u64>,
    /// The function, or `None` when the address lies in no known text symbol.
    pub function: Option<FunctionAt>,
    /// Reported frame or raw-scan candidate.
    pub origin: FrameOrigin,
}

/// A frame as the snapshot holds it, before symbolization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFrame<'a> {
    /// A kernel text address: a BPF frame or candidate, or a `/proc` entry without a symbol.
    Address(u64),
    /// A `/proc` entry: function name, offset and module, no address.
    Symbol(&'a SymbolOffset),
}

/// A task's frames unsymbolized: the reported ones (innermost first), then its candidates
/// (innermost first).
pub fn raw_frames(task: &TaskStack) -> impl Iterator<Item = (RawFrame<'_>, FrameOrigin)> {
    let reported = task.frames().iter().map(|frame| {
        let raw = match frame {
            Frame::Address(address) => RawFrame::Address(*address),
            Frame::Symbol(symbol) => RawFrame::Symbol(symbol),
        };
        (raw, FrameOrigin::Reported)
    });
    let candidates = task
        .candidates
        .iter()
        .map(|&address| (RawFrame::Address(address), FrameOrigin::Candidate));
    reported.chain(candidates)
}

impl RawFrame<'_> {
    /// The frame with its function: an address looked up in `symbols`, a `/proc` entry as named.
    pub fn symbolize(self, symbols: &Kallsyms, origin: FrameOrigin) -> SymbolizedFrame {
        match self {
            Self::Address(address) => SymbolizedFrame {
                address: Some(address),
                function: symbols.symbolize(address).map(|hit| FunctionAt {
                    name: hit.name.to_owned(),
                    object: hit.object.clone(),
                    offset: hit.offset,
                }),
                origin,
            },
            Self::Symbol(symbol) => SymbolizedFrame {
                address: None,
                function: Some(FunctionAt {
                    name: symbol.name.clone(),
                    object: KernelObject::from_module_name(symbol.module.as_deref()),
                    offset: symbol.offset,
                }),
                origin,
            },
        }
    }
}

impl SymbolizedFrame {
    /// `name+0xoff [module]`, or the address, or `?`.
    pub fn describe(&self) -> String {
        match (&self.function, self.address) {
            (Some(function), _) => {
                let mut text = format!("{}+{:#x}", function.name, function.offset);
                if let KernelObject::Module(module) = &function.object {
                    let _ = write!(text, " [{module}]");
                }
                text
            }
            (None, Some(address)) => format!("{address:#x}"),
            (None, None) => "?".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {

    use lpcheck_ebpf::{KernelStack, TaskState};

    use super::*;
    use crate::blockers::fixtures;

    fn task(frames: Vec<Frame>, candidates: Vec<u64>) -> TaskStack {
        TaskStack {
            pid: 7,
            tgid: 7,
            comm: "t".to_owned(),
            state: TaskState::Interruptible,
            is_kthread: false,
            on_cpu: Some(false),
            stack: KernelStack::Frames {
                frames,
                depth_limit_reached: false,
            },
            candidates,
        }
    }

    #[test]
    fn addresses_names_and_candidates_are_symbolized() {
        let symbols = fixtures::symbols();
        let stack = task(
            vec![
                Frame::Address(0xffff_ffff_c000_1010),
                Frame::Symbol(SymbolOffset {
                    name: "vfs_read".to_owned(),
                    offset: 0x20,
                    size: 0x200,
                    module: None,
                }),
                Frame::Address(0x10),
            ],
            vec![0xffff_ffff_8120_0105],
        );
        let frames: Vec<SymbolizedFrame> = raw_frames(&stack)
            .map(|(frame, origin)| frame.symbolize(&symbols, origin))
            .collect();
        let described: Vec<String> = frames.iter().map(SymbolizedFrame::describe).collect();
        assert_eq!(
            described,
            [
                "lpc_target_sleep+0x10 [lpc_target]",
                "vfs_read+0x20",
                "0x10",
                "do_nanosleep+0x5"
            ]
        );
        assert_eq!(frames[3].origin, FrameOrigin::Candidate);
        assert_eq!(frames[1].address, None);
        assert_eq!(
            frames[0].function.as_ref().map(|f| &f.object),
            Some(&KernelObject::Module("lpc_target".to_owned()))
        );
    }
}

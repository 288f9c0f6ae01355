//! Parsing of the iterator's output: back-to-back `struct task_record` (bpf/task_record.h), each a
//! 56-byte header followed by `nr_frames + nr_candidates` native-endian u64 words.

use thiserror::Error;

use crate::task::{Frame, KernelStack, TaskStack, TaskState, PF_KTHREAD};

/// `TASK_RECORD_MAGIC`: "LPTS" as a little-endian u32.
const MAGIC: u32 = 0x5354_504c;
/// `TASK_RECORD_HEADER_SIZE`.
const HEADER_SIZE: usize = 56;
/// `MAX_FRAMES`.
pub(crate) const MAX_FRAMES: u32 = 64;
/// `MAX_CANDIDATES`.
const MAX_CANDIDATES: u32 = 32;
/// `MAX_SCAN_WORDS`.
pub(crate) const MAX_SCAN_WORDS: u32 = 256;
/// `ON_CPU_UNKNOWN`.
const ON_CPU_UNKNOWN: u32 = u32::MAX;
const WORD: usize = 8;
const COMM_OFFSET: usize = 40;
const COMM_LEN: usize = 16;

/// The iterator's output does not follow the record layout.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    /// A record header is cut short.
    #[error("record at byte {offset}: header truncated ({available} of {HEADER_SIZE} bytes)")]
    TruncatedHeader {
        /// Offset of the record in the output.
        offset: usize,
        /// Bytes left.
        available: usize,
    },
    /// A record does not start with the magic number.
    #[error("record at byte {offset}: bad magic {found:#010x}")]
    BadMagic {
        /// Offset of the record in the output.
        offset: usize,
        /// The value found.
        found: u32,
    },
    /// A record claims more words than the program can write.
    #[error(
        "record at byte {offset}: {frames} frames and {candidates} candidates exceed the limits"
    )]
    TooManyWords {
        /// Offset of the record in the output.
        offset: usize,
        /// Claimed frames.
        frames: u32,
        /// Claimed candidates.
        candidates: u32,
    },
    /// A record's words are cut short.
    #[error("record at byte {offset}: {needed} bytes of words, {available} left")]
    TruncatedWords {
        /// Offset of the record in the output.
        offset: usize,
        /// Bytes the words need.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
}

/// Parses the whole output of one iterator run.
pub fn parse_records(bytes: &[u8]) -> Result<Vec<TaskStack>, RecordError> {
    let mut tasks = Vec::with_capacity(bytes.len() / (HEADER_SIZE + 12 * WORD));
    let mut offset = 0;
    while offset < bytes.len() {
        let (task, size) = parse_record(&bytes[offset..], offset)?;
        tasks.push(task);
        offset += size;
    }
    Ok(tasks)
}

/// Parses one record at the start of `bytes`; returns it and its size.
fn parse_record(bytes: &[u8], offset: usize) -> Result<(TaskStack, usize), RecordError> {
    let Some(header) = bytes.get(..HEADER_SIZE) else {
        return Err(RecordError::TruncatedHeader {
            offset,
            available: bytes.len(),
        });
    };
    let field = |index: usize| {
        let start = index * 4;
        u32::from_ne_bytes(header[start..start + 4].try_into().expect("4-byte slice"))
    };
    let magic = field(0);
    if magic != MAGIC {
        return Err(RecordError::BadMagic {
            offset,
            found: magic,
        });
    }
    let (pid, tgid, state, exit_state, flags) = (field(1), field(2), field(3), field(4), field(5));
    let stack_err = field(6) as i32;
    let on_cpu = field(7);
    let (nr_frames, nr_candidates) = (field(8), field(9));
    if nr_frames > MAX_FRAMES || nr_candidates > MAX_CANDIDATES {
        return Err(RecordError::TooManyWords {
            offset,
            frames: nr_frames,
            candidates: nr_candidates,
        });
    }
    let nr_frames = nr_frames as usize;
    let words_len = (nr_frames + nr_candidates as usize) * WORD;
    let Some(word_bytes) = bytes.get(HEADER_SIZE..HEADER_SIZE + words_len) else {
        return Err(RecordError::TruncatedWords {
            offset,
            needed: words_len,
            available: bytes.len() - HEADER_SIZE,
        });
    };
    let mut words = word_bytes
        .chunks_exact(WORD)
        .map(|chunk| u64::from_ne_bytes(chunk.try_into().expect("8-byte chunk")));

    let stack = if stack_err < 0 {
        KernelStack::Unavailable(format!(
            "bpf_get_task_stack failed: {}",
            std::io::Error::from_raw_os_error(-stack_err)
        ))
    } else {
        KernelStack::Frames {
            frames: words.by_ref().take(nr_frames).map(Frame::Address).collect(),
            depth_limit_reached: nr_frames == MAX_FRAMES as usize,
        }
    };
    let task = TaskStack {
        pid,
        tgid,
        comm: comm(&header[COMM_OFFSET..COMM_OFFSET + COMM_LEN]),
        state: TaskState::from_kernel(state, exit_state),
        is_kthread: flags & PF_KTHREAD != 0,
        on_cpu: (on_cpu != ON_CPU_UNKNOWN).then_some(on_cpu != 0),
        stack,
        candidates: words.collect(),
    };
    Ok((task, HEADER_SIZE + words_len))
}

/// The NUL-terminated `comm` field.
fn comm(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fields {
        pid: u32,
        state: u32,
        flags: u32,
        stack_err: i32,
        on_cpu: u32,
        comm: &'static str,
        frames: Vec<u64>,
        candidates: Vec<u64>,
    }

    fn encode(f: &Fields) -> Vec<u8> {
        let mut out = Vec::new();
        let header = [
            MAGIC,
            f.pid,
            f.pid,
            f.state,
            0,
            f.flags,
            f.stack_err as u32,
            f.on_cpu,
            f.frames.len() as u32,
            f.candidates.len() as u32,
        ];
        for value in header {
            out.extend_from_slice(&value.to_ne_bytes());
        }
        let mut comm = [0u8; COMM_LEN];
        comm[..f.comm.len()].copy_from_slice(f.comm.as_bytes());
        out.extend_from_slice(&comm);
        for word in f.frames.iter().chain(&f.candidates) {
            out.extend_from_slice(&word.to_ne_bytes());
        }
        out
    }

    fn sleeper() -> Fields {
        Fields {
            pid: 42,
            state: 1,
            flags: 0,
            stack_err: 0,
            on_cpu: 0,
            comm: "sleeper",
            frames: vec![0xffff_ffff_8142_e345, 0xffff_ffff_8142_0000],
            candidates: vec![0xffff_ffff_8226_d8ab],
        }
    }

    #[test]
    fn parses_back_to_back_records() {
        let kthread = Fields {
            pid: 7,
            state: 0x402,
            flags: PF_KTHREAD,
            on_cpu: ON_CPU_UNKNOWN,
            comm: "kworker/0:1",
            frames: vec![],
            candidates: vec![],
            ..sleeper()
        };
        let mut bytes = encode(&sleeper());
        bytes.extend(encode(&kthread));
        let tasks = parse_records(&bytes).unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].pid, 42);
        assert_eq!(tasks[0].comm, "sleeper");
        assert_eq!(tasks[0].state, TaskState::Interruptible);
        assert!(!tasks[0].is_kthread);
        assert_eq!(tasks[0].on_cpu, Some(false));
        assert_eq!(
            tasks[0].frames(),
            [
                Frame::Address(0xffff_ffff_8142_e345),
                Frame::Address(0xffff_ffff_8142_0000)
            ]
        );
        assert_eq!(tasks[0].candidates, [0xffff_ffff_8226_d8ab]);
        assert_eq!(tasks[1].comm, "kworker/0:1");
        assert_eq!(tasks[1].state, TaskState::Idle);
        assert!(tasks[1].is_kthread);
        assert_eq!(tasks[1].on_cpu, None);
        assert!(tasks[1].frames().is_empty());
    }

    #[test]
    fn stack_error_makes_the_stack_unavailable_not_empty() {
        let bytes = encode(&Fields {
            stack_err: -libc::EFAULT,
            frames: vec![],
            candidates: vec![],
            ..sleeper()
        });
        let tasks = parse_records(&bytes).unwrap();
        assert!(
            matches!(&tasks[0].stack, KernelStack::Unavailable(why) if why.contains("bpf_get_task_stack"))
        );
    }

    #[test]
    fn full_depth_is_flagged() {
        let bytes = encode(&Fields {
            frames: vec![0xffff_ffff_8100_0000; MAX_FRAMES as usize],
            ..sleeper()
        });
        let tasks = parse_records(&bytes).unwrap();
        assert!(matches!(
            tasks[0].stack,
            KernelStack::Frames {
                depth_limit_reached: true,
                ..
            }
        ));
    }

    #[test]
    fn rejects_corrupt_output() {
        let good = encode(&sleeper());
        assert_eq!(
            parse_records(&good[..20]),
            Err(RecordError::TruncatedHeader {
                offset: 0,
                available: 20
            })
        );
        assert_eq!(
            parse_records(&good[..good.len() - 1]),
            Err(RecordError::TruncatedWords {
                offset: 0,
                needed: 24,
                available: 23
            })
        );
        let mut bad_magic = good.clone();
        bad_magic[0] ^= 0xff;
        assert!(matches!(
            parse_records(&bad_magic),
            Err(RecordError::BadMagic { offset: 0, .. })
        ));
        let mut too_many = good;
        too_many[32..36].copy_from_slice(&(MAX_FRAMES + 1).to_ne_bytes());
        assert!(matches!(
            parse_records(&too_many),
            Err(RecordError::TooManyWords { frames: 65, .. })
        ));
    }
}

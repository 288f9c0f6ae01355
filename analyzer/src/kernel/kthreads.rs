//! Where a host's kthreads rest: the `kthread-stacks.tsv` member of a facts bundle, one line per
//! kthread, `PID<TAB>COMM<TAB>FRAMES`, FRAMES the function names of `/proc/PID/stack`, innermost
//! first, space-separated, without offsets or module names; lines starting with `#` are comments.
//!
//! A kthread sleeping at collect time sleeps in its main loop almost always: a patch of any
//! function on that stack cannot complete its transition while the kthread stays there (the fake
//! signal wakes it and it goes back to sleep in the same function). `/proc/PID/stack` hides the
//! scheduler's `__sched` frames, so those are covered by the region rules, not by this list.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{AnalyzeError, Result};

/// One kthread and the stack it was sleeping on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KthreadStack {
    /// Its pid.
    pub pid: u32,
    /// Its name (`comm`).
    pub comm: String,
    /// Function names, innermost first.
    pub frames: Vec<String>,
}

/// The kthreads of one host and where each was sleeping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KthreadStacks {
    stacks: Vec<KthreadStack>,
    /// Function name to the indexes of the stacks holding it.
    by_function: BTreeMap<String, Vec<usize>>,
}

impl KthreadStacks {
    /// Reads a `kthread-stacks.tsv` file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| AnalyzeError::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Parses the text of a `kthread-stacks.tsv` file (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let mut stacks = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| {
                AnalyzeError::malformed(
                    path,
                    format!("line {}: {what} (want PID<TAB>COMM<TAB>FRAMES)", index + 1),
                )
            };
            let mut fields = line.splitn(3, '\t');
            let pid = fields.next().unwrap_or_default();
            let pid: u32 = pid
                .parse()
                .map_err(|_| bad(&format!("pid `{pid}` is not a number")))?;
            let comm = fields
                .next()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| bad("no COMM field"))?;
            let frames = fields.next().ok_or_else(|| bad("no FRAMES field"))?;
            let frames: Vec<String> = frames.split_whitespace().map(str::to_string).collect();
            if let Some(frame) = frames.iter().find(|f| f.contains(['+', '[', ']', '/'])) {
                return Err(bad(&format!(
                    "frame `{frame}` is not a bare function name (no offsets or module names)"
                )));
            }
            stacks.push(KthreadStack {
                pid,
                comm: comm.to_string(),
                frames,
            });
        }
        let mut by_function: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, stack) in stacks.iter().enumerate() {
            for frame in &stack.frames {
                let holders = by_function.entry(frame.clone()).or_default();
                if holders.last() != Some(&index) {
                    holders.push(index);
                }
            }
        }
        Ok(Self {
            stacks,
            by_function,
        })
    }

    /// The kthreads recorded.
    pub fn stacks(&self) -> &[KthreadStack] {
        &self.stacks
    }

    /// The kthreads that were sleeping with `function` on their stack.
    pub fn resting_in<'a>(&'a self, function: &str) -> impl Iterator<Item = &'a KthreadStack> {
        self.by_function
            .get(function)
            .into_iter()
            .flatten()
            .map(|&index| &self.stacks[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# pid\tcomm\tframes\n\
        2\tkthreadd\tkthreadd ret_from_fork\n\
        40\tkswapd0\tkswapd kthread ret_from_fork\n\
        \n\
        41\tkcompactd0\tkcompactd kthread ret_from_fork\n\
        57\tkworker/0:1\tworker_thread kthread ret_from_fork\n";

    fn parse(text: &str) -> Result<KthreadStacks> {
        KthreadStacks::parse(Path::new("kthread-stacks.tsv"), text)
    }

    #[test]
    fn finds_the_kthreads_resting_in_a_function() {
        let stacks = parse(SAMPLE).unwrap();
        assert_eq!(stacks.stacks().len(), 4);
        let kswapd: Vec<_> = stacks.resting_in("kswapd").map(|s| s.pid).collect();
        assert_eq!(kswapd, [40]);
        let kthread: Vec<_> = stacks.resting_in("kthread").map(|s| &s.comm[..]).collect();
        assert_eq!(kthread, ["kswapd0", "kcompactd0", "kworker/0:1"]);
        assert_eq!(stacks.resting_in("schedule").count(), 0);
        assert_eq!(stacks.stacks()[3].comm, "kworker/0:1");
    }

    #[test]
    fn a_recursive_frame_counts_its_kthread_once() {
        let stacks = parse("7\tk\tf g f kthread\n").unwrap();
        assert_eq!(stacks.resting_in("f").count(), 1);
    }

    #[test]
    fn an_empty_stack_is_kept() {
        let stacks = parse("9\tidle_inject/0\t\n").unwrap();
        assert_eq!(stacks.stacks()[0].frames, Vec::<String>::new());
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, want) in [
            ("x\tk\tf\n", "line 1: pid `x` is not a number"),
            ("# c\n3\n", "line 2: no COMM field"),
            ("3\tk\n", "line 1: no FRAMES field"),
            ("3\tk\tf+0x10/0x20 kthread\n", "frame `f+0x10/0x20`"),
            ("3\tk\tf [kvm]\n", "frame `[kvm]`"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(
                error.contains(want) && error.contains("kthread-stacks.tsv"),
                "{text:?}: {error}"
            );
        }
    }
}

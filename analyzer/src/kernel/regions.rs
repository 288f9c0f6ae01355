//! Special kernel text regions, from the linker's marker symbols.
//!
//! Functions in these regions are either freed after boot (`.init.text`), always on some stack
//! (`.sched.text`, `.cpuidle.text`), or excluded from instrumentation (`.noinstr.text`,
//! `.entry.text`, ...). The regions live inside `.text` in the final image, delimited by
//! `__<name>_text_start`/`__<name>_text_end` symbols that kallsyms and System.map list.

use std::ops::Range;

use super::kallsyms::Kallsyms;

/// A named region of kernel text with a livepatch-relevant property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextRegion {
    /// `.init.text`: freed after boot.
    Init,
    /// `.sched.text`: `__sched` functions, where sleeping tasks sit.
    Sched,
    /// `.cpuidle.text`: idle loops.
    Cpuidle,
    /// `.noinstr.text`: code that must not be instrumented.
    Noinstr,
    /// `.entry.text`: system-call and interrupt entry code.
    Entry,
    /// `.irqentry.text`: interrupt entry handlers.
    Irqentry,
    /// `.softirqentry.text`: softirq entry.
    Softirqentry,
    /// `.kprobes.text`: code kprobes must not probe.
    Kprobes,
}

impl TextRegion {
    /// Every region, with the marker symbols that delimit it.
    pub const ALL: [(TextRegion, &'static str, &'static str); 8] = [
        (TextRegion::Init, "_sinittext", "_einittext"),
        (TextRegion::Sched, "__sched_text_start", "__sched_text_end"),
        (
            TextRegion::Cpuidle,
            "__cpuidle_text_start",
            "__cpuidle_text_end",
        ),
        (
            TextRegion::Noinstr,
            "__noinstr_text_start",
            "__noinstr_text_end",
        ),
        (TextRegion::Entry, "__entry_text_start", "__entry_text_end"),
        (
            TextRegion::Irqentry,
            "__irqentry_text_start",
            "__irqentry_text_end",
        ),
        (
            TextRegion::Softirqentry,
            "__softirqentry_text_start",
            "__softirqentry_text_end",
        ),
        (
            TextRegion::Kprobes,
            "__kprobes_text_start",
            "__kprobes_text_end",
        ),
    ];

    /// The ELF section name the region comes from.
    pub fn section_name(self) -> &'static str {
        match self {
            Self::Init => ".init.text",
            Self::Sched => ".sched.text",
            Self::Cpuidle => ".cpuidle.text",
            Self::Noinstr => ".noinstr.text",
            Self::Entry => ".entry.text",
            Self::Irqentry => ".irqentry.text",
            Self::Softirqentry => ".softirqentry.text",
            Self::Kprobes => ".kprobes.text",
        }
    }
}

impl std::fmt::Display for TextRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.section_name())
    }
}

/// The address ranges of the special regions of one kernel image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextRegions {
    ranges: Vec<(TextRegion, Range<u64>)>,
}

impl TextRegions {
    /// Finds the regions whose start and end markers both appear in `symbols` (one scan of the
    /// table for all markers).
    pub fn from_kallsyms(symbols: &Kallsyms) -> Self {
        let markers = TextRegion::ALL.map(|(_, start, end)| [start, end]);
        let addresses = symbols.vmlinux_addresses(markers.as_flattened());
        let ranges = TextRegion::ALL
            .iter()
            .zip(addresses.chunks_exact(2))
            .filter_map(|(&(region, _, _), bounds)| {
                let (start, end) = (bounds[0]?, bounds[1]?);
                (start < end).then_some((region, start..end))
            })
            .collect();
        Self { ranges }
    }

    /// Builds regions from explicit ranges (e.g. vmlinux section headers).
    pub fn from_ranges(ranges: Vec<(TextRegion, Range<u64>)>) -> Self {
        Self { ranges }
    }

    /// The region containing `address`, if any.
    pub fn region_of(&self, address: u64) -> Option<TextRegion> {
        self.ranges
            .iter()
            .find(|(_, range)| range.contains(&address))
            .map(|(region, _)| *region)
    }

    /// Adds `region` at `range` unless its boundaries are already known.
    pub fn add_if_unknown(&mut self, region: TextRegion, range: Range<u64>) {
        if !self.knows(region) {
            self.ranges.push((region, range));
        }
    }

    /// Whether the boundaries of `region` are known.
    pub fn knows(&self, region: TextRegion) -> bool {
        self.ranges.iter().any(|(r, _)| *r == region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn regions_come_from_marker_pairs() {
        let symbols = Kallsyms::parse(
            "ffffffff82265800 T __sched_text_start\n\
             ffffffff82266810 T schedule\n\
             ffffffff82270000 T __sched_text_end\n\
             ffffffff83780000 T _sinittext\n\
             ffffffff83790000 T _einittext\n\
             ffffffff8225a5f0 T __noinstr_text_start\n",
            Path::new("k"),
        )
        .unwrap();
        let regions = TextRegions::from_kallsyms(&symbols);
        assert_eq!(
            regions.region_of(0xffffffff82266810),
            Some(TextRegion::Sched)
        );
        assert_eq!(
            regions.region_of(0xffffffff83780010),
            Some(TextRegion::Init)
        );
        assert_eq!(regions.region_of(0xffffffff83790000), None);
        assert!(!regions.knows(TextRegion::Noinstr), "end marker missing");
    }
}

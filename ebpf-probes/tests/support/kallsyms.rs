//! A test-only symbolizer over `/proc/kallsyms` text symbols (types `t`/`T`), to name the raw
//! addresses of BPF snapshots.

use std::fs;

/// Text symbols sorted by address.
pub struct Symbolizer {
    symbols: Vec<(u64, String)>,
}

impl Symbolizer {
    /// Reads `/proc/kallsyms`; `None` when its addresses are hidden (all zero).
    pub fn from_proc() -> Option<Self> {
        let text = fs::read_to_string("/proc/kallsyms").expect("read /proc/kallsyms");
        let mut symbols: Vec<(u64, String)> = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_ascii_whitespace();
                let address = u64::from_str_radix(fields.next()?, 16).ok()?;
                let kind = fields.next()?;
                let name = fields.next()?;
                matches!(kind, "t" | "T").then(|| (address, name.to_owned()))
            })
            .collect();
        if symbols.iter().all(|(address, _)| *address == 0) {
            return None;
        }
        symbols.sort_unstable();
        Some(Self { symbols })
    }

    /// The function containing `address`: the nearest text symbol at or below it.
    pub fn name(&self, address: u64) -> Option<&str> {
        let index = self.symbols.partition_point(|(start, _)| *start <= address);
        let (_, name) = self.symbols.get(index.checked_sub(1)?)?;
        Some(name)
    }
}

//! The function symbols of a linked kernel image, ordered by address, for mapping code
//! addresses to the function that holds them.

use object::read::elf::ElfFile64;
use object::{Endianness, Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

/// One function: `[start, end)` and the index of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u64,
    end: u64,
    name: u32,
}

/// Function symbols with sizes, one span per start address (named by the first global name);
/// aliases are kept for lookups by name.
#[derive(Debug, Clone, Default)]
pub struct FunctionSymbols {
    names: Vec<String>,
    spans: Vec<Span>,
    aliases: Vec<(String, u64)>,
}

/// Identifies one function of a [`FunctionSymbols`] table.
pub type FunctionId = u32;

impl FunctionSymbols {
    /// Reads the `STT_FUNC` symbols of executable sections from an ELF symbol table.
    pub fn from_elf(file: &ElfFile64<'_, Endianness>) -> Self {
        let mut found: Vec<(u64, u64, bool, &str)> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.size() > 0)
            .filter(|s| {
                s.section_index()
                    .and_then(|i| file.section_by_index(i).ok())
                    .is_some_and(|section| section.kind() == SectionKind::Text)
            })
            .filter_map(|s| Some((s.address(), s.size(), s.is_global(), s.name().ok()?)))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
        let mut table = Self::default();
        for (start, size, _, name) in found {
            if table.spans.last().is_some_and(|s| s.start == start) {
                table.aliases.push((name.to_string(), start));
            } else {
                table.push(name, start, size);
            }
        }
        table
    }

    /// Adds a function; calls must come in increasing address order.
    pub fn push(&mut self, name: &str, start: u64, size: u64) {
        let index = u32::try_from(self.names.len()).expect("fewer than 2^32 symbols");
        self.names.push(name.to_string());
        self.spans.push(Span {
            start,
            end: start.saturating_add(size),
            name: index,
        });
    }

    /// How many functions.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The name of function `id`.
    pub fn name(&self, id: FunctionId) -> &str {
        &self.names[id as usize]
    }

    /// The function whose code holds `address`.
    pub fn containing(&self, address: u64) -> Option<FunctionId> {
        let after = self.spans.partition_point(|s| s.start <= address);
        let span = self.spans.get(after.checked_sub(1)?)?;
        (address < span.end).then_some(span.name)
    }

    /// The function that starts at `address`.
    pub fn starting_at(&self, address: u64) -> Option<FunctionId> {
        self.containing(address)
            .filter(|&id| self.spans[id as usize].start == address)
    }

    /// The start addresses of the functions called `name` (aliases included), in address order.
    pub fn addresses_of(&self, name: &str) -> Vec<u64> {
        let mut found: Vec<u64> = self
            .spans
            .iter()
            .filter(|s| self.names[s.name as usize] == name)
            .map(|s| s.start)
            .chain(
                self.aliases
                    .iter()
                    .filter(|(alias, _)| alias == name)
                    .map(|&(_, start)| start),
            )
            .collect();
        found.sort_unstable();
        found
    }

    /// Every function as `(id, start, end)`, in address order.
    pub fn spans(&self) -> impl Iterator<Item = (FunctionId, u64, u64)> + '_ {
        self.spans.iter().map(|s| (s.name, s.start, s.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_addresses_to_functions() {
        let mut table = FunctionSymbols::default();
        table.push("a", 0x1000, 0x10);
        table.push("b", 0x1020, 0x20);
        assert_eq!(table.containing(0x1005).map(|i| table.name(i)), Some("a"));
        assert_eq!(table.containing(0x1010), None);
        assert_eq!(table.containing(0xfff), None);
        assert_eq!(table.starting_at(0x1020).map(|i| table.name(i)), Some("b"));
        assert_eq!(table.starting_at(0x1021), None);
        assert_eq!(table.len(), 2);
        assert_eq!(table.addresses_of("b"), [0x1020]);
        assert!(table.addresses_of("c").is_empty());
    }
}

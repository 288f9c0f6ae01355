//! Fuzzes the kernel's text lists: an input is a kallsyms dump or System.map and an ftrace
//! function list (`available_filter_functions`, with or without addresses), framed as
//! `lpcheck_fuzz::split_pair` reads them. Both are parsed and, when both parse, the ftrace index
//! is built over them and queried at every symbol. Any input must give tables or errors, never a
//! panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lpcheck_analyzer::kernel::ftrace::{FtraceIndex, FtraceList};
use lpcheck_analyzer::kernel::kallsyms::Kallsyms;
use lpcheck_analyzer::kernel::regions::TextRegions;

fuzz_target!(|data: &[u8]| {
    let (kallsyms, ftrace) = lpcheck_fuzz::split_pair(data);
    let kallsyms = String::from_utf8_lossy(kallsyms);
    let ftrace = String::from_utf8_lossy(ftrace);
    let symbols = Kallsyms::parse(&kallsyms, Path::new("kallsyms"));
    let list = FtraceList::parse(&ftrace, Path::new("available_filter_functions"));
    if let Ok(symbols) = &symbols {
        let regions = TextRegions::from_kallsyms(symbols);
        for symbol in symbols.symbols() {
            let _ = symbols.symbolize(symbol.address);
            let _ = symbols.size_at(symbol.address);
            let _ = regions.region_of(symbol.address);
        }
        if let Ok(list) = list {
            let index = FtraceIndex::new(list);
            for symbol in symbols.symbols() {
                let _ = index.hookability(symbol.address, symbols);
            }
        }
    }
});

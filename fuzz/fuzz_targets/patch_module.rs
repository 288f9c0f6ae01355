//! Fuzzes the patch-module parser: any bytes must give a model or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lpcheck_analyzer::patch::PatchModule;

fuzz_target!(|data: &[u8]| {
    let _ = PatchModule::from_bytes(std::path::Path::new("fuzz.ko"), data);
});

//! Fuzzes `lpcheck diff`: an input is a pair of relocatable objects (framed as
//! `lpcheck_fuzz::split_pair` reads it), validated and compared. Any pair must give a report or
//! an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lpcheck_analyzer::diff::{diff_loaded, DiffOptions, LoadedObject};

fuzz_target!(|data: &[u8]| {
    let (orig, patched) = lpcheck_fuzz::split_pair(data);
    let orig = LoadedObject::from_bytes(Path::new("orig.o"), orig.to_vec());
    let patched = LoadedObject::from_bytes(Path::new("patched.o"), patched.to_vec());
    let _ = diff_loaded(&orig, &patched, &DiffOptions::default());
});

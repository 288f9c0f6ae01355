//! `lpcheck diff`: compare an object built before a source patch with the same object built
//! after it, and say what a live patch would have to replace and whether that is possible.
//!
//! Pipeline: [`crate::elf`] loads and validates both objects; [`resolve`] turns every relocation into
//! a target that survives recompilation; [`functions`] finds functions and their compiler-split
//! parts; [`correlate`] pairs symbols across the two objects (clones, renumbered static locals);
//! [`directives`] reads the author's callbacks and ignore/force markers;
//! [`provenance`] refuses objects that are not builds of the same source;
//! [`special`] attributes special-section entries to functions; [`compare`] and [`lineonly`]
//! decide what differs; [`analyze`] applies the [`rules`] (with the user's [`policy`]: overrides
//! and waivers) and builds the [`report`].

pub mod analyze;
pub mod compare;
pub mod correlate;
pub mod directives;
pub mod functions;
pub mod lineonly;
pub mod names;
pub mod policy;
pub mod provenance;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod sections;
pub mod special;
pub mod target;
#[cfg(test)]
mod testobj;
pub mod waivers;

use std::path::{Path, PathBuf};

pub use analyze::DiffOptions;
pub use policy::DiffRules;
pub use report::{Change, ChangeKind, DiffReport, DiffVerdict};
pub use target::{PatchTarget, TargetFact};

use crate::elf::ElfObject;
use crate::error::{AnalyzeError, Result};

/// Reads, validates and compares `orig` and `patched`. Objects that are not builds of the same
/// source, and directives in `patched` that name nothing in it, are errors (exit 2).
pub fn diff_files(orig: &Path, patched: &Path, options: &DiffOptions) -> Result<DiffReport> {
    let orig = LoadedObject::read(orig)?;
    let patched = LoadedObject::read(patched)?;
    diff_loaded(&orig, &patched, options)
}

/// Validates and compares two objects already in memory.
pub fn diff_loaded(
    orig: &LoadedObject,
    patched: &LoadedObject,
    options: &DiffOptions,
) -> Result<DiffReport> {
    let orig = orig.parse()?;
    let patched = patched.parse()?;
    analyze::diff_models(&orig, &patched, options)
}

/// The bytes of one object file, read from disk.
pub struct LoadedObject {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl LoadedObject {
    /// Reads `path` into memory.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| AnalyzeError::io(path, e))?;
        Ok(Self::from_bytes(path, bytes))
    }

    /// Wraps bytes that came from elsewhere; `path` only names them in messages.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Self {
        Self {
            path: path.to_path_buf(),
            bytes,
        }
    }

    /// Validates the object ([`ElfObject::parse`]) and builds its model.
    pub fn parse(&self) -> Result<ElfObject<'_>> {
        ElfObject::parse(&self.path, &self.bytes)
    }
}

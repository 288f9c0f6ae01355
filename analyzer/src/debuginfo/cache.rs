//! What the debug-info analyses keep between runs, per kernel build: one file per GNU build id
//! under `$XDG_CACHE_HOME/lpcheck` (or `~/.cache/lpcheck`), postcard-serialized after a magic
//! and a format version. A file that is unreadable, of another version, corrupt, or for another
//! build is ignored with a note and rebuilt, never trusted.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::calls::CallIndex;
use super::inline::{Definition, UnitFiles};

const MAGIC: &[u8; 8] = b"LPCKDBG\0";

/// Bumped whenever [`CacheEntry`] or what it means changes.
pub const CACHE_VERSION: u32 = 1;

/// The reusable knowledge about one kernel build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The build id it belongs to (hex).
    pub build_id: String,
    /// How many function symbols the image had (the call index refers to them by position).
    pub symbol_count: u64,
    /// Every unit's file list.
    pub units: Option<UnitFiles>,
    /// The direct call graph.
    pub calls: Option<CallIndex>,
    /// Definitions found by entry address.
    pub definitions: Vec<(u64, Option<Definition>)>,
    /// Inline sites found per definition.
    pub inline_sites: Vec<(Definition, Vec<String>)>,
}

/// The default cache directory: `$XDG_CACHE_HOME/lpcheck`, else `$HOME/.cache/lpcheck`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("lpcheck"))
}

/// The file for `build_id` in `dir`.
pub fn file_for(dir: &Path, build_id: &str) -> PathBuf {
    dir.join(format!("debuginfo-{build_id}.bin"))
}

/// Loads the entry for `build_id` with `symbol_count` symbols. `Err` carries the note saying
/// why an existing file was ignored; a file that does not exist is `Ok(None)`.
pub fn load(dir: &Path, build_id: &str, symbol_count: u64) -> Result<Option<CacheEntry>, String> {
    let path = file_for(dir, build_id);
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cache {} ignored: {error}", path.display())),
    };
    decode(&data, build_id, symbol_count)
        .map(Some)
        .map_err(|why| format!("cache {} ignored: {why}", path.display()))
}

fn decode(data: &[u8], build_id: &str, symbol_count: u64) -> Result<CacheEntry, String> {
    let rest = data
        .strip_prefix(MAGIC)
        .ok_or("not an lpcheck debug-info cache")?;
    let version = rest
        .get(..4)
        .map(|v| u32::from_le_bytes(v.try_into().expect("4 bytes")))
        .ok_or("truncated header")?;
    if version != CACHE_VERSION {
        return Err(format!(
            "format version {version}, this lpcheck writes {CACHE_VERSION}"
        ));
    }
    let entry: CacheEntry =
        postcard::from_bytes(&rest[4..]).map_err(|e| format!("corrupt: {e}"))?;
    if entry.build_id != build_id {
        return Err(format!("it is for build id {}", entry.build_id));
    }
    if entry.symbol_count != symbol_count {
        return Err(format!(
            "it counts {} function symbols, the image has {symbol_count}",
            entry.symbol_count
        ));
    }
    if entry.calls.as_ref().is_some_and(|c| !c.fits(symbol_count)) {
        return Err("its call graph refers to functions the image does not have".into());
    }
    Ok(entry)
}

/// Writes `entry` atomically (a temporary file renamed into place).
pub fn store(dir: &Path, entry: &CacheEntry) -> Result<PathBuf, String> {
    let path = file_for(dir, &entry.build_id);
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(&CACHE_VERSION.to_le_bytes());
    let payload = postcard::to_stdvec(entry).map_err(|e| e.to_string())?;
    data.extend_from_slice(&payload);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, &data).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> CacheEntry {
        CacheEntry {
            build_id: "abcd".into(),
            symbol_count: 3,
            definitions: vec![(
                0x1000,
                Some(Definition {
                    name: "foo".into(),
                    file: "a.c".into(),
                }),
            )],
            inline_sites: vec![(
                Definition {
                    name: "foo".into(),
                    file: "a.c".into(),
                },
                vec!["bar".into()],
            )],
            ..CacheEntry::default()
        }
    }

    #[test]
    fn round_trips_and_refuses_what_does_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "abcd", 3), Ok(None));
        let path = store(dir.path(), &entry()).unwrap();
        assert_eq!(load(dir.path(), "abcd", 3), Ok(Some(entry())));
        let note = load(dir.path(), "abcd", 4).unwrap_err();
        assert!(note.contains("counts 3 function symbols"), "{note}");

        let mut data = std::fs::read(&path).unwrap();
        data[8] = 99;
        std::fs::write(&path, &data).unwrap();
        let note = load(dir.path(), "abcd", 3).unwrap_err();
        assert!(note.contains("format version 99"), "{note}");

        data[8] = CACHE_VERSION as u8;
        data.truncate(data.len() - 3);
        std::fs::write(&path, &data).unwrap();
        let note = load(dir.path(), "abcd", 3).unwrap_err();
        assert!(note.contains("corrupt"), "{note}");

        std::fs::write(&path, b"garbage").unwrap();
        let note = load(dir.path(), "abcd", 3).unwrap_err();
        assert!(note.contains("not an lpcheck debug-info cache"), "{note}");
    }
}

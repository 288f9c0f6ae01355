//! `/sys/kernel/livepatch`: the patches the kernel's livepatch core holds, their objects and
//! functions, and the attributes `apply`/`revert` write (`enabled`).
//!
//! Layout (Documentation/ABI/testing/sysfs-kernel-livepatch):
//! `<root>/<patch>/{enabled,transition,force,replace,stack_order}`,
//! `<root>/<patch>/<object>/patched`, `<root>/<patch>/<object>/<function>,<sympos>/`.
//! `replace`, `stack_order` and `patched` are recent; an older kernel lacks them, which the model
//! keeps as `None` rather than guessing.

use std::fs;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use super::LiveError;

/// Where the kernel exposes livepatches.
pub const DEFAULT_ROOT: &str = "/sys/kernel/livepatch";

/// One loaded livepatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct LoadedPatch {
    /// Patch (module) name.
    pub name: String,
    /// The `enabled` attribute.
    pub enabled: bool,
    /// The `transition` attribute: a transition of this patch is in progress.
    pub transition: bool,
    /// The `replace` attribute, when the kernel has it.
    pub replace: Option<bool>,
    /// The `stack_order` attribute (1 = first applied), when the kernel has it.
    pub stack_order: Option<u32>,
    /// The objects the patch changes, sorted by name.
    pub objects: Vec<LoadedObject>,
}

/// An object (vmlinux or a module) a loaded patch changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct LoadedObject {
    /// `vmlinux` or the module name.
    pub name: String,
    /// The `patched` attribute, when the kernel has it.
    pub patched: Option<bool>,
    /// The functions replaced in it, sorted by name and position.
    pub functions: Vec<LoadedFunction>,
}

/// A function a loaded patch replaces (a `<function>,<sympos>` directory).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct LoadedFunction {
    /// Name of the original function.
    pub name: String,
    /// Its `old_sympos` as the kernel shows it (1 for a unique name).
    pub sympos: u32,
}

/// The livepatch sysfs tree.
#[derive(Debug, Clone)]
pub struct LivepatchSysfs {
    root: PathBuf,
}

impl Default for LivepatchSysfs {
    fn default() -> Self {
        Self::at(DEFAULT_ROOT)
    }
}

impl LivepatchSysfs {
    /// The tree rooted at `root` (normally [`DEFAULT_ROOT`]).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the kernel has livepatch support (the root directory exists).
    pub fn is_supported(&self) -> bool {
        self.root.is_dir()
    }

    /// Every loaded patch, in stack order when the kernel tells it, else by name.
    pub fn patches(&self) -> Result<Vec<LoadedPatch>, LiveError> {
        let mut patches = Vec::new();
        for name in subdirectories(&self.root)? {
            match self.patch(&name) {
                Ok(Some(patch)) => patches.push(patch),
                Ok(None) => {}
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(error),
            }
        }
        patches.sort_by(|a, b| (a.stack_order, &a.name).cmp(&(b.stack_order, &b.name)));
        Ok(patches)
    }

    /// The patch named `name`, or `None` when it is not loaded (or its directory is being
    /// removed while it is read).
    pub fn patch(&self, name: &str) -> Result<Option<LoadedPatch>, LiveError> {
        let dir = self.root.join(name);
        if !dir.is_dir() {
            return Ok(None);
        }
        match read_patch(name, &dir) {
            Err(error) if error.is_not_found() || error.is_being_removed() => Ok(None),
            read => read.map(Some),
        }
    }

    /// Writes the patch's `enabled` attribute: `false` starts the reverse transition.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), LiveError> {
        let path = self.root.join(name).join("enabled");
        fs::write(&path, if enabled { "1" } else { "0" }).map_err(|e| LiveError::io(&path, e))
    }

    /// Writes the patch's `force` attribute: every task is marked switched whatever its stack
    /// holds. The kernel then never lets the patch module be removed.
    pub fn force(&self, name: &str) -> Result<(), LiveError> {
        let path = self.root.join(name).join("force");
        fs::write(&path, "1").map_err(|e| LiveError::io(&path, e))
    }
}

/// Reads the attributes and objects of the patch directory `dir`.
fn read_patch(name: &str, dir: &Path) -> Result<LoadedPatch, LiveError> {
    let mut objects = Vec::new();
    for object in subdirectories(dir)? {
        objects.push(read_object(&dir.join(&object), object)?);
    }
    Ok(LoadedPatch {
        name: name.to_string(),
        enabled: read_bool(&dir.join("enabled"))?,
        transition: read_bool(&dir.join("transition"))?,
        replace: optional(read_bool(&dir.join("replace")))?,
        stack_order: optional(read_u32(&dir.join("stack_order")))?,
        objects,
    })
}

fn read_object(dir: &Path, name: String) -> Result<LoadedObject, LiveError> {
    let mut functions = Vec::new();
    for entry in subdirectories(dir)? {
        let (function, sympos) = entry
            .rsplit_once(',')
            .and_then(|(function, pos)| Some((function, pos.parse().ok()?)))
            .ok_or_else(|| LiveError::Unexpected {
                path: dir.join(&entry),
                contents: entry.clone(),
                expected: "a <function>,<sympos> directory",
            })?;
        functions.push(LoadedFunction {
            name: function.to_string(),
            sympos,
        });
    }
    functions.sort();
    Ok(LoadedObject {
        name,
        patched: optional(read_bool(&dir.join("patched")))?,
        functions,
    })
}

/// The names of the directories in `dir`, sorted (symlinks such as `kobject` links are skipped).
fn subdirectories(dir: &Path) -> Result<Vec<String>, LiveError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| LiveError::io(dir, e))? {
        let entry = entry.map_err(|e| LiveError::io(dir, e))?;
        let file_type = entry
            .file_type()
            .map_err(|e| LiveError::io(&entry.path(), e))?;
        if file_type.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn read_trimmed(path: &Path) -> Result<String, LiveError> {
    fs::read_to_string(path)
        .map(|text| text.trim().to_string())
        .map_err(|e| LiveError::io(path, e))
}

fn read_bool(path: &Path) -> Result<bool, LiveError> {
    match read_trimmed(path)?.as_str() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(LiveError::Unexpected {
            path: path.to_path_buf(),
            contents: other.to_string(),
            expected: "0 or 1",
        }),
    }
}

fn read_u32(path: &Path) -> Result<u32, LiveError> {
    let text = read_trimmed(path)?;
    text.parse().map_err(|_| LiveError::Unexpected {
        path: path.to_path_buf(),
        contents: text,
        expected: "a decimal number",
    })
}

/// An attribute that older kernels lack: "not found" is `None`, other errors stay errors.
fn optional<T>(result: Result<T, LiveError>) -> Result<Option<T>, LiveError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod fake {
    //! A livepatch sysfs tree in a temporary directory, shaped like the kernel's.

    use std::fs;
    use std::path::Path;

    /// Adds patch `name` under `root` with the given attributes and `object -> functions`.
    pub fn add_patch(
        root: &Path,
        name: &str,
        enabled: bool,
        transition: bool,
        stack_order: Option<u32>,
        objects: &[(&str, &[&str])],
    ) {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("enabled"), format!("{}\n", u8::from(enabled))).unwrap();
        fs::write(
            dir.join("transition"),
            format!("{}\n", u8::from(transition)),
        )
        .unwrap();
        fs::write(dir.join("force"), "").unwrap();
        if let Some(order) = stack_order {
            fs::write(dir.join("stack_order"), format!("{order}\n")).unwrap();
            fs::write(dir.join("replace"), "0\n").unwrap();
        }
        for (object, functions) in objects {
            let object_dir = dir.join(object);
            fs::create_dir_all(&object_dir).unwrap();
            fs::write(object_dir.join("patched"), "1\n").unwrap();
            for function in *functions {
                fs::create_dir_all(object_dir.join(function)).unwrap();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::add_patch;
    use super::*;

    #[test]
    fn an_attribute_of_a_patch_being_removed_reads_as_gone() {
        let path = Path::new("/sys/kernel/livepatch/p/stack_order");
        let removed = LiveError::io(path, std::io::Error::from_raw_os_error(libc::ENODEV));
        assert!(removed.is_being_removed() && !removed.is_not_found());
        let denied = LiveError::io(path, std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(!denied.is_being_removed() && !denied.is_not_found());
    }

    #[test]
    fn reads_patches_objects_and_functions_in_stack_order() {
        let dir = tempfile::tempdir().unwrap();
        add_patch(
            dir.path(),
            "zz_first",
            true,
            false,
            Some(1),
            &[("vmlinux", &["cmdline_proc_show,1"])],
        );
        add_patch(
            dir.path(),
            "aa_second",
            true,
            true,
            Some(2),
            &[
                ("vmlinux", &["do_nanosleep,1", "ksys_read,1"]),
                ("ext4", &["ext4_sync_fs,2"]),
            ],
        );
        let sysfs = LivepatchSysfs::at(dir.path());
        assert!(sysfs.is_supported());
        let patches = sysfs.patches().unwrap();
        let names: Vec<_> = patches.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["zz_first", "aa_second"]);
        let second = &patches[1];
        assert!(second.enabled && second.transition);
        assert_eq!(second.stack_order, Some(2));
        assert_eq!(second.replace, Some(false));
        assert_eq!(second.objects[0].name, "ext4");
        assert_eq!(
            second.objects[0].functions,
            [LoadedFunction {
                name: "ext4_sync_fs".into(),
                sympos: 2
            }]
        );
        assert_eq!(second.objects[1].patched, Some(true));
        assert_eq!(second.objects[1].functions.len(), 2);
    }

    #[test]
    fn older_kernels_without_recent_attributes_read_as_none() {
        let dir = tempfile::tempdir().unwrap();
        add_patch(dir.path(), "old", false, false, None, &[]);
        fs::remove_file(dir.path().join("old/force")).unwrap();
        let patch = LivepatchSysfs::at(dir.path())
            .patch("old")
            .unwrap()
            .unwrap();
        assert_eq!(patch.stack_order, None);
        assert_eq!(patch.replace, None);
        assert!(!patch.enabled);
    }

    #[test]
    fn bad_attribute_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        add_patch(dir.path(), "p", true, false, Some(1), &[]);
        fs::write(dir.path().join("p/enabled"), "yes\n").unwrap();
        let error = LivepatchSysfs::at(dir.path())
            .patch("p")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("p/enabled") && error.contains("0 or 1"),
            "{error}"
        );
        fs::write(dir.path().join("p/enabled"), "1\n").unwrap();
        fs::create_dir_all(dir.path().join("p/vmlinux/no_sympos")).unwrap();
        let error = LivepatchSysfs::at(dir.path())
            .patch("p")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no_sympos"), "{error}");
    }

    #[test]
    fn missing_root_means_unsupported_and_missing_patch_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let absent = LivepatchSysfs::at(dir.path().join("livepatch"));
        assert!(!absent.is_supported());
        assert!(absent.patches().unwrap_err().is_not_found());
        assert_eq!(LivepatchSysfs::at(dir.path()).patch("nope").unwrap(), None);
    }

    #[test]
    fn set_enabled_writes_the_attribute() {
        let dir = tempfile::tempdir().unwrap();
        add_patch(dir.path(), "p", true, false, Some(1), &[]);
        let sysfs = LivepatchSysfs::at(dir.path());
        sysfs.set_enabled("p", false).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("p/enabled")).unwrap(),
            "0"
        );
    }
}

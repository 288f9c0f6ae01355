//! One boot of a QEMU guest for a VM test: the kernel cache it boots ([`Kernel`]), what goes
//! into the initramfs and how long it may take ([`Guest`], started by [`run_guest`]), and what
//! came back ([`GuestRun`]).
//!
//! The kernel cache is `$LPCHECK_KERNEL_CACHE`, else `target/kernel` (tests/vm/fetch-kernel.sh);
//! the CI matrix points it at each cache in turn (`target/kernel`, `target/kernel-trixie`,
//! `target/kernel-sid`, opt-in `target/kernel-trixie-backports`). Everything a run builds or
//! brings back lives under `CARGO_TARGET_TMPDIR/TEST/RELEASE`, so runs on different kernels do
//! not mix.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::{describe, missing_qemu, parse_results, repo_root, run_ok, skip, EXIT_UNAVAILABLE};

/// The kernel cache the VM tests boot: `$LPCHECK_KERNEL_CACHE`, else `<repo>/target/kernel`.
pub fn selected_cache() -> PathBuf {
    std::env::var_os("LPCHECK_KERNEL_CACHE")
        .map_or_else(|| repo_root().join("target/kernel"), PathBuf::from)
}

/// Where test `test` keeps what it builds and brings back for the kernel `label`.
pub fn work_dir(test: &str, label: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(test)
        .join(label)
}

/// A fetched kernel cache: its directory and its `env` file (`KVER`, `VMLINUZ`, `MODDIR`,
/// `SUITE`, `KCC`, ...).
#[derive(Debug, Clone)]
pub struct Kernel {
    cache: PathBuf,
    env: HashMap<String, String>,
}

/// The variables that make the tests/vm scripts and kmod/build.sh use the kernel of `cache`:
/// the cache itself and, once it has been fetched, its suite and ABI (so that a trixie or sid
/// cache is never refreshed with bookworm's kernel, nor moved to a newer ABI behind the test's
/// back). Variables the caller set win.
fn cache_vars(cache: &Path) -> Vec<(&'static str, String)> {
    let mut vars = vec![("LPCHECK_KERNEL_CACHE", cache.display().to_string())];
    let env = std::fs::read_to_string(cache.join("env")).unwrap_or_default();
    let recorded = parse_results(&env);
    for (var, key) in [
        ("LPCHECK_KERNEL_SUITE", "SUITE"),
        ("LPCHECK_KERNEL_ABI", "KABI"),
    ] {
        if let (None, Some(value)) = (std::env::var_os(var), recorded.get(key)) {
            vars.push((var, value.clone()));
        }
    }
    vars
}

impl Kernel {
    /// Fetches (or finds already fetched) the kernel of `cache` with tests/vm/fetch-kernel.sh;
    /// `Err(reason)` when its packages cannot be downloaded; panics on any other failure.
    pub fn fetch(cache: &Path) -> Result<Self, String> {
        let script = repo_root().join("tests/vm/fetch-kernel.sh");
        let out = Command::new(&script)
            .envs(cache_vars(cache))
            .output()
            .unwrap_or_else(|err| panic!("running {}: {err}", script.display()));
        if out.status.code() == Some(EXIT_UNAVAILABLE) {
            return Err(format!(
                "the kernel of {} cannot be downloaded\n{}",
                cache.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        assert!(
            out.status.success(),
            "{}",
            describe("fetch-kernel.sh", &out)
        );
        let env = parse_results(&super::read(&cache.join("env")));
        Ok(Self {
            cache: cache.to_path_buf(),
            env,
        })
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.cache
    }

    /// A value of the cache's `env` file; panics naming the key when it is absent.
    pub fn value(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{}/env has no {key}", self.cache.display()))
    }

    /// The kernel release, `uname -r` in the guest (e.g. `6.1.0-57-amd64`).
    pub fn release(&self) -> &str {
        self.value("KVER")
    }

    /// The bzImage of the kernel.
    pub fn vmlinuz(&self) -> PathBuf {
        PathBuf::from(self.value("VMLINUZ"))
    }

    /// The `kernel/` directory of the kernel's module tree.
    pub fn module_tree(&self) -> PathBuf {
        Path::new(self.value("MODDIR")).join("kernel")
    }

    /// Builds the `kmod/` modules against this kernel into `dir`; `Err(reason)` when its
    /// headers or their compiler cannot be had (kmod/build.sh exits 3: a skip), a panic on any
    /// other failure.
    pub fn build_kmods(&self, dir: &Path) -> Result<(), String> {
        let build = Command::new(repo_root().join("kmod/build.sh"))
            .arg(dir)
            .envs(self.vars())
            .output()
            .expect("running kmod/build.sh");
        if build.status.code() == Some(EXIT_UNAVAILABLE) {
            return Err(format!(
                "kmod/ cannot be built against {}\n{}",
                self.release(),
                String::from_utf8_lossy(&build.stderr)
            ));
        }
        assert!(
            build.status.success(),
            "{}",
            describe("kmod/build.sh", &build)
        );
        Ok(())
    }

    /// The variables that point the repository's scripts at this kernel.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        cache_vars(&self.cache)
    }
}

/// The kernel a VM test boots: the selected cache ([`selected_cache`]), fetched. `None` after
/// a printed skip (a failure under `LPCHECK_VM_REQUIRED=1`) when QEMU or the kernel is absent.
pub fn vm_kernel(test: &str) -> Option<Kernel> {
    if let Some(reason) = missing_qemu() {
        skip(test, &reason);
        return None;
    }
    match Kernel::fetch(&selected_cache()) {
        Ok(kernel) => Some(kernel),
        Err(reason) => {
            skip(test, &reason);
            None
        }
    }
}

/// What the guest boots.
#[derive(Debug, Clone)]
enum Boot<'k> {
    /// The kernel of a cache.
    Cache(&'k Kernel),
    /// A kernel image of the test's own (a vmlinux or bzImage), with the label of its runs.
    Image { image: PathBuf, label: String },
}

/// Where the guest's `/kmod` modules come from.
#[derive(Debug, Clone)]
enum Kmods {
    /// None: `/kmod` is empty.
    None,
    /// kmod/ built against the booted kernel.
    Built,
    /// The `.ko` files of a directory.
    Dir(PathBuf),
}

/// One guest run being described: the guest script, its files, modules, kernel command line,
/// disk and time bound. Start it with [`run_guest`], boot it with [`Guest::boot`].
#[derive(Debug, Clone)]
pub struct Guest<'k> {
    test: String,
    script: String,
    boot: Boot<'k>,
    kmods: Kmods,
    lpcheck: bool,
    tools: Vec<String>,
    adds: Vec<(PathBuf, String)>,
    append: Vec<String>,
    disk: Option<PathBuf>,
    timeout_secs: u32,
    out: String,
}

/// Describes a run of `tests/vm/guest/SCRIPT` for test `test` on `kernel`: nothing added yet,
/// 300 s at most, results in `out/` of the test's work directory.
pub fn run_guest<'k>(test: &str, script: &str, kernel: &'k Kernel) -> Guest<'k> {
    Guest::new(test, script, Boot::Cache(kernel))
}

/// Paths already made by this test process (stripped binaries, guest tools, kmod builds), so
/// that repeated boots do not redo them.
fn made_once(path: &Path, make: impl FnOnce()) {
    static MADE: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let mut made = MADE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !made.contains(path) {
        make();
        made.insert(path.to_path_buf());
    }
}

impl<'k> Guest<'k> {
    fn new(test: &str, script: &str, boot: Boot<'k>) -> Self {
        Self {
            test: test.to_string(),
            script: script.to_string(),
            boot,
            kmods: Kmods::None,
            lpcheck: false,
            tools: Vec::new(),
            adds: Vec::new(),
            append: Vec::new(),
            disk: None,
            timeout_secs: 300,
            out: "out".to_string(),
        }
    }

    /// Describes a run that boots `image` (a kernel of the test's own, not a cache); its files
    /// go under the test's work directory for `label`.
    pub fn booting_image(test: &str, script: &str, image: &Path, label: &str) -> Guest<'static> {
        Guest::new(
            test,
            script,
            Boot::Image {
                image: image.to_path_buf(),
                label: label.to_string(),
            },
        )
    }

    /// The directory of this run's files.
    pub fn work(&self) -> PathBuf {
        let label = match &self.boot {
            Boot::Cache(kernel) => kernel.release(),
            Boot::Image { label, .. } => label,
        };
        work_dir(&self.test, label)
    }

    /// Puts kmod/, built against the booted kernel, in `/kmod`.
    #[must_use]
    pub fn kmods(mut self) -> Self {
        self.kmods = Kmods::Built;
        self
    }

    /// Puts the `.ko` files of `dir` in `/kmod`.
    #[must_use]
    pub fn kmod_dir(mut self, dir: &Path) -> Self {
        self.kmods = Kmods::Dir(dir.to_path_buf());
        self
    }

    /// Puts the lpcheck binary under test, without its debug information, at `/bin/lpcheck`.
    #[must_use]
    pub fn lpcheck(mut self) -> Self {
        self.lpcheck = true;
        self
    }

    /// Puts `tests/vm/guest/NAME.c`, built statically, at `/bin/NAME`.
    #[must_use]
    pub fn tool(mut self, name: &str) -> Self {
        self.tools.push(name.to_string());
        self
    }

    /// Copies host file `path` to `guest` in the guest.
    #[must_use]
    pub fn add(mut self, path: &Path, guest: &str) -> Self {
        self.adds.push((path.to_path_buf(), guest.to_string()));
        self
    }

    /// Appends `arg` to the kernel command line.
    #[must_use]
    pub fn append(mut self, arg: &str) -> Self {
        self.append.push(arg.to_string());
        self
    }

    /// Attaches the raw disk image `disk` as `/dev/vda`.
    #[must_use]
    pub fn disk(mut self, disk: &Path) -> Self {
        self.disk = Some(disk.to_path_buf());
        self
    }

    /// Bounds the whole VM run to `seconds`.
    #[must_use]
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_secs = seconds;
        self
    }

    /// Names the results directory (under the work directory; default `out`).
    #[must_use]
    pub fn out(mut self, name: &str) -> Self {
        self.out = name.to_string();
        self
    }

    /// The `/kmod` directory of the run; `Err(reason)` when kmod/ cannot be built here.
    fn kmod_source(&self, work: &Path) -> Result<PathBuf, String> {
        match (&self.kmods, &self.boot) {
            (Kmods::Dir(dir), _) => Ok(dir.clone()),
            (Kmods::None, _) => {
                let empty = work.join("no-kmod");
                std::fs::create_dir_all(&empty).unwrap();
                Ok(empty)
            }
            (Kmods::Built, Boot::Cache(kernel)) => {
                let dir = work.join("kmod");
                let mut built = Ok(());
                made_once(&dir, || built = kernel.build_kmods(&dir));
                built.map(|()| dir)
            }
            (Kmods::Built, Boot::Image { image, .. }) => panic!(
                "{}: kmod/ is built against a kernel cache, not {}",
                self.test,
                image.display()
            ),
        }
    }

    /// The `--add` arguments: the files, the stripped lpcheck and the guest tools.
    fn add_args(&self, work: &Path) -> Vec<String> {
        let mut adds: Vec<(PathBuf, String)> = Vec::new();
        if self.lpcheck {
            let path = work.join("lpcheck");
            made_once(&path, || {
                run_ok(
                    "objcopy --strip-debug",
                    Command::new("objcopy")
                        .arg("--strip-debug")
                        .arg(env!("CARGO_BIN_EXE_lpcheck"))
                        .arg(&path),
                );
            });
            adds.push((path, "/bin/lpcheck".to_string()));
        }
        for name in &self.tools {
            let path = work.join(name);
            made_once(&path, || {
                run_ok(
                    &format!("gcc {name}.c"),
                    Command::new("gcc")
                        .args(["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
                        .arg(&path)
                        .arg(repo_root().join(format!("tests/vm/guest/{name}.c"))),
                );
            });
            adds.push((path, format!("/bin/{name}")));
        }
        adds.extend(self.adds.iter().cloned());
        adds.iter()
            .map(|(path, guest)| format!("{}={guest}", path.display()))
            .collect()
    }

    /// Boots the guest and waits for its results. `None` after a printed skip (a failure
    /// under `LPCHECK_VM_REQUIRED=1`) when the kernel packages or kmod/'s headers cannot be
    /// had; panics, with the VM's output, when the run fails.
    pub fn boot(self) -> Option<GuestRun> {
        let work = self.work();
        std::fs::create_dir_all(&work).unwrap();
        let kmod = match self.kmod_source(&work) {
            Ok(dir) => dir,
            Err(reason) => {
                skip(&self.test, &reason);
                return None;
            }
        };
        let out = work.join(&self.out);
        let mut command = Command::new(repo_root().join("tests/vm/run-vm.sh"));
        command
            .arg("--out")
            .arg(&out)
            .arg("--kmod")
            .arg(&kmod)
            .args(["--timeout", &self.timeout_secs.to_string()]);
        let release = match &self.boot {
            Boot::Cache(kernel) => {
                command.envs(kernel.vars());
                kernel.release().to_string()
            }
            Boot::Image { image, label } => {
                command.arg("--kernel").arg(image);
                label.clone()
            }
        };
        for add in self.add_args(&work) {
            command.args(["--add", &add]);
        }
        if !self.append.is_empty() {
            command.args(["--append", &self.append.join(" ")]);
        }
        if let Some(disk) = &self.disk {
            command.arg("--disk").arg(disk);
        }
        command.arg(repo_root().join("tests/vm/guest").join(&self.script));

        let started = Instant::now();
        let run = command.output().expect("running tests/vm/run-vm.sh");
        let wall = started.elapsed();
        if run.status.code() == Some(EXIT_UNAVAILABLE) {
            skip(
                &self.test,
                &format!(
                    "what the VM needs cannot be downloaded\n{}",
                    String::from_utf8_lossy(&run.stderr)
                ),
            );
            return None;
        }
        assert!(
            run.status.success(),
            "{}: {}",
            self.test,
            describe("tests/vm/run-vm.sh", &run)
        );
        let stdout = super::read(&out.join("stdout"));
        let timing = parse_results(&super::read(&out.join("timing")));
        let field = |key: &str| timing.get(key).map_or("?", String::as_str);
        eprintln!(
            "{}: {release}: VM wall {:.1}s (boot to /init {}s, guest script {}s)",
            self.test,
            wall.as_secs_f64(),
            field("boot_to_init_guest_s"),
            field("guest_script_s"),
        );
        Some(GuestRun {
            results: parse_results(&stdout),
            stdout,
            out,
            kmod,
        })
    }
}

/// What a guest run brought back: its stdout, its `key=value` lines and its output directory.
#[derive(Debug)]
pub struct GuestRun {
    stdout: String,
    results: HashMap<String, String>,
    out: PathBuf,
    kmod: PathBuf,
}

impl GuestRun {
    /// The guest script's stdout.
    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    /// The value of the guest's `key=value` line; panics, with the stdout, when there is none.
    pub fn get(&self, key: &str) -> &str {
        self.results
            .get(key)
            .unwrap_or_else(|| panic!("the guest printed no {key}= line:\n{}", self.stdout))
    }

    /// The output directory: what the guest wrote, and run-vm.sh's `console.log`, `timing`...
    pub fn dir(&self) -> &Path {
        &self.out
    }

    /// A file of the output directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// The text of a file the guest wrote; panics naming it when it is absent.
    pub fn text(&self, name: &str) -> String {
        super::read(&self.path(name))
    }

    /// A JSON file the guest wrote; panics naming it when it is absent or not JSON.
    pub fn json(&self, name: &str) -> serde_json::Value {
        super::json(&self.path(name))
    }

    /// The directory whose modules were the guest's `/kmod`.
    pub fn kmod(&self) -> &Path {
        &self.kmod
    }
}

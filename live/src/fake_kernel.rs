//! A kernel for the engines' tests: livepatch sysfs, `/proc` (tasks with `patch_state`, `stat`,
//! `stack`), `/proc/modules`, the files `lpcheck preflight`'s host checks read (kprobes list,
//! `enabled_functions`, lockdown, `sig_enforce`, taint, `modules_disabled`, `ftrace_enabled`)
//! in a temporary directory, a [`ModuleOps`] that "loads" a patch by creating its sysfs
//! directory, and a thread that completes a patch's reverse transition when `enabled` becomes
//! 0, like the kernel.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::hostfs::HostPaths;
use super::livepatch::fake::add_patch;
use super::module_syscalls::ModuleOps;
use super::patch_state::fake::add_task;
use super::LiveError;

/// How a loaded fake patch's transition behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Completes at once.
    Completes,
    /// Never completes: a kthread stays unpatched inside the target.
    Stalls,
}

/// The fake kernel's files.
pub struct FakeKernel {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// Its paths.
    pub paths: HostPaths,
}

impl Default for FakeKernel {
    fn default() -> Self {
        Self::new()
    }
}

/// The host files of a kernel where loading a livepatch would work, under `root`: every file
/// `lpcheck preflight`'s host checks read, saying "go" (no module loaded, no kprobe, no ftrace
/// user, no lockdown, signatures not enforced, not tainted, ftrace on, livepatch supported).
pub fn write_good_host(root: &Path) {
    let paths = HostPaths::under(root);
    for (file, text) in [
        (paths.modules.clone(), ""),
        (paths.proc.join("sys/kernel/modules_disabled"), "0\n"),
        (paths.proc.join("sys/kernel/tainted"), "0\n"),
        (paths.proc.join("sys/kernel/ftrace_enabled"), "1\n"),
        (
            paths.sys.join("kernel/security/lockdown"),
            "[none] integrity confidentiality\n",
        ),
        (
            paths.sys.join("module/module/parameters/sig_enforce"),
            "N\n",
        ),
        (paths.enabled_functions()[0].clone(), ""),
        (paths.kprobes_list(), ""),
    ] {
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, text).unwrap();
    }
    fs::create_dir_all(&paths.livepatch).unwrap();
}

impl FakeKernel {
    /// A kernel with livepatch support where loading would work ([`write_good_host`]), init
    /// and a kthread `lpc_target` (pid 77) of the loaded module `lpc_target`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_good_host(dir.path());
        let paths = HostPaths::under(dir.path());
        fs::write(&paths.modules, "lpc_target 16384 0 - Live 0x0\n").unwrap();
        for (pid, comm) in [(1, "init"), (77, "lpc_target")] {
            add_task(&paths.proc, pid, pid, comm, "-1");
            let task = paths.proc.join(format!("{pid}/task/{pid}"));
            fs::write(
                task.join("stat"),
                format!("{pid} ({comm}) S 2 0 0 0 -1 2129984 0 0\n"),
            )
            .unwrap();
            fs::write(
                task.join("stack"),
                "[<0>] cmdline_proc_show+0x3f/0x60\n[<0>] kthread+0xda/0x100\n",
            )
            .unwrap();
        }
        Self { dir, paths }
    }

    /// Sets every task's `patch_state`: init to `init`, the kthread to `kthread`.
    pub fn set_states(paths: &HostPaths, init: &str, kthread: &str) {
        for (pid, state) in [(1, init), (77, kthread)] {
            fs::write(
                paths.proc.join(format!("{pid}/task/{pid}/patch_state")),
                format!("{state}\n"),
            )
            .unwrap();
        }
    }
}

/// Loads patches into a [`FakeKernel`].
pub struct FakeModules {
    /// The kernel's paths.
    pub paths: HostPaths,
    /// How loaded patches behave.
    pub behaviour: Behaviour,
    /// `(object, function)` the loaded patch replaces.
    pub target: (&'static str, &'static str),
    /// Module names passed to `load` (by file stem) and `unload`.
    pub loads: Vec<String>,
    /// Module names unloaded.
    pub unloads: Vec<String>,
}

impl FakeModules {
    /// Modules of the fake kernel at `paths` whose patches replace `vmlinux:cmdline_proc_show`
    /// and behave as `behaviour` says.
    pub fn new(paths: &HostPaths, behaviour: Behaviour) -> Self {
        Self {
            paths: paths.clone(),
            behaviour,
            target: ("vmlinux", "cmdline_proc_show"),
            loads: Vec::new(),
            unloads: Vec::new(),
        }
    }
}

impl ModuleOps for FakeModules {
    fn load(&mut self, file: &Path, _params: &str) -> Result<(), LiveError> {
        let name = file
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
        self.loads.push(name.clone());
        let stalls = self.behaviour == Behaviour::Stalls;
        let function = format!("{},1", self.target.1);
        add_patch(
            &self.paths.livepatch,
            &name,
            true,
            stalls,
            None,
            &[(self.target.0, &[function.as_str()])],
        );
        let mut modules = fs::read_to_string(&self.paths.modules).unwrap();
        let _ = writeln!(modules, "{name} 16384 1 - Live 0x0 (K)");
        fs::write(&self.paths.modules, modules).unwrap();
        if stalls {
            FakeKernel::set_states(&self.paths, "1", "0");
        }
        Ok(())
    }

    /// Like the kernel: EBUSY while the patch is not freed yet.
    fn unload(&mut self, name: &str) -> Result<(), LiveError> {
        if self.paths.livepatch.join(name).exists() {
            return Err(LiveError::Syscall {
                call: "delete_module",
                subject: name.to_string(),
                source: std::io::Error::from_raw_os_error(libc::EBUSY),
                meaning: "in use",
            });
        }
        self.unloads.push(name.to_string());
        let modules = fs::read_to_string(&self.paths.modules).unwrap();
        let kept: String = modules
            .lines()
            .filter(|line| !line.starts_with(&format!("{name} ")))
            .map(|line| format!("{line}\n"))
            .collect();
        fs::write(&self.paths.modules, kept).unwrap();
        Ok(())
    }
}

/// Completes reverse transitions: when a patch's `enabled` reads 0, its directory goes and the
/// tasks go idle; when its `force` reads 1, its transition ends. Stops when dropped (or after
/// 30 s).
pub struct ReverseCompleter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ReverseCompleter {
    /// Watches `paths.livepatch`.
    pub fn start(paths: &HostPaths) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let paths = paths.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(30) {
                let entries = fs::read_dir(&paths.livepatch).into_iter().flatten();
                for entry in entries.flatten() {
                    let enabled = fs::read_to_string(entry.path().join("enabled"));
                    if enabled.is_ok_and(|text| text.trim() == "0") {
                        fs::remove_dir_all(entry.path()).unwrap();
                        FakeKernel::set_states(&paths, "-1", "-1");
                    }
                    let forced = fs::read_to_string(entry.path().join("force"));
                    if forced.is_ok_and(|text| text.trim() == "1") {
                        fs::write(entry.path().join("force"), "0").unwrap();
                        fs::write(entry.path().join("transition"), "0\n").unwrap();
                        FakeKernel::set_states(&paths, "-1", "-1");
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ReverseCompleter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

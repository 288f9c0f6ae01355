//! Where kthreads rest, found statically in a linked vmlinux: their entry points from the code
//! that creates them, and the functions in which each sleeps in a loop.
//!
//! **Entries.** At every direct call (or tail jump) to a creation function, the argument
//! registers are followed through the calling function's code ([`code::arguments_at`]):
//! the thread function of `kthread_create_on_node`, `__kthread_create_on_node`,
//! `kthread_create_on_cpu`, `kernel_thread` and `user_mode_thread` is `%rdi` (the
//! `kthread_run`/`kthread_create` macros expand to `kthread_create_on_node`); worker threads
//! (`kthread_create_worker*`) run `kthread_worker_fn`; `smpboot_register_percpu_thread` gets a
//! `struct smp_hotplug_thread` in static data whose `thread_fn` and `thread_comm` are read from
//! the image (member offsets from its BTF): those threads run `smpboot_thread_fn`, which calls
//! `thread_fn`. A function that passes its own `%rdi` on to a creation function is a creation
//! function too. The name format (`%rcx` of the `kthread_create_on_*` family) names the kthread.
//!
//! **Resting places.** A kthread rests where it sleeps waiting for work: its entry function when
//! the entry calls, inside a loop (a back-edge), a sleeping primitive ([`SLEEPS`]) or a function
//! that calls one directly (not lock slow paths: functions in `.sched.text` other than the
//! primitives are not followed); the resting places are the functions on that path. An entry
//! that does not sleep in a loop itself rests in those of its direct callees that do and never
//! return (its main loop moved to a function of its own).
//!
//! **What it cannot see** ([`BLIND_SPOTS`]): thread functions passed through memory or a
//! register the tracking loses, creation through an indirect call, sleeps behind an indirect
//! call or more than one call below the loop, and loops through a `.cold` part. A loop that
//! ends on `kthread_should_stop()` still holds the kthread for as long as it lives. A loop
//! around a sleep may be a transient wait rather than the main loop: both are reported.

mod code;
mod image;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::elf::functions::{FunctionId, FunctionSymbols};
use crate::elf::image::{MappedImage, VmlinuxImage};
use crate::error::Result;
use crate::kernel::kallsyms::Kallsyms;
use crate::model::Fact;
use code::{FunctionCode, Value};
use image::Image;

/// The functions a kthread sleeps in while it waits: the scheduler's entry points and the
/// waits built on them that are functions (the `wait_event*` and `swait_event*` macros expand
/// to calls of `schedule*`).
pub const SLEEPS: &[&str] = &[
    "schedule",
    "schedule_timeout",
    "schedule_timeout_interruptible",
    "schedule_timeout_killable",
    "schedule_timeout_uninterruptible",
    "schedule_timeout_idle",
    "schedule_hrtimeout",
    "schedule_hrtimeout_range",
    "schedule_hrtimeout_range_clock",
    "io_schedule",
    "io_schedule_timeout",
    "freezable_schedule",
    "freezable_schedule_timeout",
    "wait_for_completion",
    "wait_for_completion_interruptible",
    "wait_for_completion_killable",
    "wait_for_completion_state",
    "wait_for_completion_timeout",
    "wait_for_completion_interruptible_timeout",
    "wait_for_completion_killable_timeout",
    "wait_for_completion_io",
    "wait_for_completion_io_timeout",
    "wait_woken",
    "kthread_parkme",
    "msleep",
    "msleep_interruptible",
    "usleep_range_state",
];

/// The ways out of a kthread: they do not return either, but a thread does not live in them.
const EXITS: &[&str] = &[
    "do_exit",
    "kthread_exit",
    "kthread_complete_and_exit",
    "make_task_dead",
    "do_task_dead",
    "do_group_exit",
];

/// What the static analysis does not see, for evidence and reports.
pub const BLIND_SPOTS: &str = "found from direct calls in the vmlinux only: kthreads created \
    through an indirect call or with a thread function the register tracking loses, sleeps \
    behind an indirect call or more than one call below the loop, modules' kthreads and loops \
    through .cold code are not seen; a loop that ends on kthread_should_stop() still holds \
    its kthread while it lives";

/// The loop that runs `struct smp_hotplug_thread` threads and calls their `thread_fn`.
const SMPBOOT_LOOP: &str = "smpboot_thread_fn";
/// The loop of worker threads (`kthread_create_worker*`).
const WORKER_LOOP: &str = "kthread_worker_fn";

/// How a creation function is told the thread function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThreadFn {
    /// In this argument register (index into [`code::ARGUMENTS`]).
    Argument(usize),
    /// Always this function.
    Fixed(&'static str),
    /// `%rdi` points at a `struct smp_hotplug_thread`.
    HotplugThread,
}

/// A function that creates a kthread.
#[derive(Debug, Clone)]
struct Creator {
    name: String,
    thread_fn: ThreadFn,
    /// The argument register holding the name format, when known.
    comm: Option<usize>,
}

/// The kernel's creation functions (argument indexes: 0 `%rdi`, 1 `%rsi`, 2 `%rdx`, 3 `%rcx`).
const CREATORS: &[(&str, ThreadFn, Option<usize>)] = &[
    ("kthread_create_on_node", ThreadFn::Argument(0), Some(3)),
    ("__kthread_create_on_node", ThreadFn::Argument(0), Some(3)),
    ("kthread_create_on_cpu", ThreadFn::Argument(0), Some(3)),
    ("kernel_thread", ThreadFn::Argument(0), None),
    ("user_mode_thread", ThreadFn::Argument(0), None),
    (
        "kthread_create_worker",
        ThreadFn::Fixed(WORKER_LOOP),
        Some(1),
    ),
    (
        "kthread_create_worker_on_cpu",
        ThreadFn::Fixed(WORKER_LOOP),
        Some(2),
    ),
    (
        "smpboot_register_percpu_thread",
        ThreadFn::HotplugThread,
        None,
    ),
];

/// One place a kthread is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    /// The function holding the call.
    pub by: String,
    /// The creation function called.
    pub via: String,
    /// The call's address (link-time).
    pub at: u64,
    /// The kthread's name format (`"kswapd%d"`), when it is a constant string.
    pub comm: Option<String>,
}

/// A kthread entry point: the thread function given to a creation function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KthreadEntry {
    /// The thread function.
    pub function: String,
    /// Its address (link-time).
    pub address: u64,
    /// Where it is created.
    pub created: Vec<Creation>,
    /// The loop that calls it, when the kernel runs it from one (`smpboot_thread_fn`).
    pub host: Option<String>,
}

impl KthreadEntry {
    /// How reports name the kthread: its name format, else its thread function.
    pub fn label(&self) -> String {
        let comms: BTreeSet<&str> = self
            .created
            .iter()
            .filter_map(|c| c.comm.as_deref())
            .collect();
        match comms.into_iter().next() {
            Some(comm) => format!("`{comm}` ({})", self.function),
            None => format!("`{}`", self.function),
        }
    }
}

/// A kthread resting in a function, and the path from its entry to the sleep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rest {
    /// Index of the kthread in [`KthreadLoops::entries`].
    pub entry: usize,
    /// The functions from the entry (or its host loop) to the sleeping primitive.
    pub path: Vec<String>,
}

/// The kthreads of an image and where they rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KthreadLoops {
    entries: Vec<KthreadEntry>,
    rests: BTreeMap<String, Vec<Rest>>,
    unresolved: Vec<String>,
}

impl KthreadLoops {
    /// The kthread entries found, in address order.
    pub fn entries(&self) -> &[KthreadEntry] {
        &self.entries
    }

    /// The functions some kthread rests in, by name.
    pub fn resting_places(&self) -> impl Iterator<Item = &str> {
        self.rests.keys().map(String::as_str)
    }

    /// The kthreads resting in `function` (matched by name: same-named static functions are
    /// not told apart).
    pub fn resting_in<'a>(
        &'a self,
        function: &str,
    ) -> impl Iterator<Item = (&'a KthreadEntry, &'a Rest)> + 'a {
        self.rests
            .get(function)
            .into_iter()
            .flatten()
            .map(|rest| (&self.entries[rest.entry], rest))
    }

    /// One kthread resting along `path` (its functions from the entry to the sleep), for the
    /// rules' tests.
    #[cfg(test)]
    pub(crate) fn resting_along(entry: KthreadEntry, path: &[&str]) -> Self {
        let rest = Rest {
            entry: 0,
            path: path.iter().map(|f| (*f).to_string()).collect(),
        };
        Self {
            entries: vec![entry],
            rests: path
                .iter()
                .map(|f| ((*f).to_string(), vec![rest.clone()]))
                .collect(),
            unresolved: Vec::new(),
        }
    }

    /// Creation calls whose thread function could not be read, one line each.
    pub fn unresolved(&self) -> &[String] {
        &self.unresolved
    }
}

/// Reads the image at `path` and finds its kthreads; `kallsyms` (of the same build) gives the
/// functions of a stripped image. Errors when the file cannot be read or is not a vmlinux
/// ([`VmlinuxImage::parse`]); what the image lacks is an unknown, as in [`find`].
pub fn load(path: &Path, kallsyms: Option<&Kallsyms>) -> Result<Fact<KthreadLoops>> {
    Ok(find(&MappedImage::open(path)?.parse()?, kallsyms))
}

/// Finds the kthreads of `image`; `kallsyms` as in [`load`]. What the image lacks (symbols,
/// creation functions) is an unknown with the reason.
pub fn find(vmlinux: &VmlinuxImage<'_>, kallsyms: Option<&Kallsyms>) -> Fact<KthreadLoops> {
    let name = vmlinux.path().display().to_string();
    let image = match Image::read(vmlinux, &name, kallsyms) {
        Ok(image) => image,
        Err(reason) => return Fact::unknown(reason),
    };
    let source = format!(
        "the code of {name} (functions from {})",
        image.symbol_source
    );
    match Analysis::new(&image).run() {
        Ok(loops) => Fact::known(loops, source),
        Err(reason) => Fact::unknown(format!("{name}: {reason}")),
    }
}

/// One run over an image.
struct Analysis<'i, 'a> {
    image: &'i Image<'i, 'a>,
    functions: &'i FunctionSymbols,
    /// Each function's `[start, end)`, by [`FunctionId`].
    spans: Vec<(u64, u64)>,
    /// Each function's direct calls, by [`FunctionId`].
    code: Vec<FunctionCode>,
    sleeps: BTreeSet<FunctionId>,
}

impl<'i, 'a> Analysis<'i, 'a> {
    fn new(image: &'i Image<'i, 'a>) -> Self {
        let functions = &image.functions;
        let mut code = vec![FunctionCode::default(); functions.len()];
        let mut spans = vec![(0, 0); functions.len()];
        for (id, start, end) in functions.spans() {
            spans[id as usize] = (start, end);
            if let Some(bytes) = image.code(start, end) {
                code[id as usize] = code::calls(bytes, start);
            }
        }
        let sleeps = SLEEPS
            .iter()
            .flat_map(|name| functions.addresses_of(name))
            .filter_map(|address| functions.starting_at(address))
            .collect();
        Self {
            image,
            functions,
            spans,
            code,
            sleeps,
        }
    }

    fn address_of(&self, name: &str) -> Option<u64> {
        self.functions.addresses_of(name).first().copied()
    }

    fn run(&self) -> std::result::Result<KthreadLoops, String> {
        let mut creators: HashMap<u64, Creator> = HashMap::new();
        for &(name, thread_fn, comm) in CREATORS {
            for address in self.functions.addresses_of(name) {
                creators.insert(
                    address,
                    Creator {
                        name: name.to_string(),
                        thread_fn,
                        comm,
                    },
                );
            }
        }
        if creators.is_empty() {
            return Err(format!(
                "none of the kthread creation functions ({}) is in {}",
                CREATORS.iter().map(|c| c.0).collect::<Vec<_>>().join(", "),
                self.image.symbol_source
            ));
        }
        let mut entries: BTreeMap<u64, KthreadEntry> = BTreeMap::new();
        let mut unresolved = Vec::new();
        let mut pending: BTreeSet<u64> = creators.keys().copied().collect();
        while !pending.is_empty() {
            let callers: BTreeSet<FunctionId> = self
                .code
                .iter()
                .enumerate()
                .filter(|(_, f)| f.calls.iter().any(|s| pending.contains(&s.target)))
                .filter_map(|(id, _)| u32::try_from(id).ok())
                .collect();
            let wanted = std::mem::take(&mut pending);
            let mut wrappers = Vec::new();
            for caller in callers {
                let (start, end) = self.span(caller);
                let Some(bytes) = self.image.code(start, end) else {
                    continue;
                };
                let own = creators.contains_key(&start);
                for (at, target, args) in code::arguments_at(bytes, start, |t| wanted.contains(&t))
                {
                    let creator = &creators[&target];
                    let by = self.functions.name(caller).to_string();
                    match self.thread_function(creator, &args) {
                        Found::Entry(address, host, comm) => {
                            let entry = entries.entry(address).or_insert_with(|| KthreadEntry {
                                function: self.name_at(address),
                                address,
                                created: Vec::new(),
                                host,
                            });
                            entry.created.push(Creation {
                                by: by.clone(),
                                via: creator.name.clone(),
                                at,
                                comm: comm.or_else(|| {
                                    creator
                                        .comm
                                        .and_then(|i| constant(args[i]))
                                        .and_then(|a| self.image.string_at(a))
                                }),
                            });
                        }
                        // A creation function passes its caller's thread function on: its
                        // callers are read instead.
                        Found::Forwarded | Found::Unresolved(_) if own => {}
                        Found::Forwarded => wrappers.push((start, by)),
                        Found::Unresolved(why) => unresolved
                            .push(format!("{by} at {at:#x} calls {}: {why}", creator.name)),
                    }
                }
            }
            for (start, name) in wrappers {
                let creator = Creator {
                    name,
                    thread_fn: ThreadFn::Argument(0),
                    comm: None,
                };
                if creators.insert(start, creator).is_none() {
                    pending.insert(start);
                }
            }
        }
        let entries: Vec<KthreadEntry> = entries.into_values().collect();
        let rests = self.rests(&entries);
        Ok(KthreadLoops {
            entries,
            rests,
            unresolved,
        })
    }

    fn span(&self, id: FunctionId) -> (u64, u64) {
        self.spans[id as usize]
    }

    fn name_at(&self, address: u64) -> String {
        self.functions.starting_at(address).map_or_else(
            || format!("{address:#x}"),
            |id| self.functions.name(id).to_string(),
        )
    }

    /// The thread function a call of `creator` with argument registers `args` passes.
    fn thread_function(&self, creator: &Creator, args: &[Value; 6]) -> Found {
        match creator.thread_fn {
            ThreadFn::Fixed(name) => match self.address_of(name) {
                Some(address) => Found::Entry(address, None, None),
                None => Found::Unresolved(format!("no function `{name}`")),
            },
            ThreadFn::Argument(index) => match args[index] {
                Value::Const(address) if self.functions.starting_at(address).is_some() => {
                    Found::Entry(address, None, None)
                }
                Value::Const(address) => Found::Unresolved(format!(
                    "the thread function {address:#x} starts no function"
                )),
                Value::Arg(0) if index == 0 => Found::Forwarded,
                _ => Found::Unresolved("the thread function is not a constant".to_string()),
            },
            ThreadFn::HotplugThread => self.hotplug_thread(args[0]),
        }
    }

    /// The `thread_fn` of the `struct smp_hotplug_thread` at `pointer`.
    fn hotplug_thread(&self, pointer: Value) -> Found {
        let Some(address) = constant(pointer) else {
            return Found::Unresolved("the smp_hotplug_thread is not a constant".to_string());
        };
        let offset = match &self.image.btf {
            Ok(btf) => btf.member_offset("smp_hotplug_thread", "thread_fn"),
            Err(why) => return Found::Unresolved(format!("no struct layout: {why}")),
        };
        let Some(offset) = offset else {
            return Found::Unresolved(
                "BTF has no struct smp_hotplug_thread with a thread_fn".to_string(),
            );
        };
        match self.image.pointer_at(address.wrapping_add(offset)) {
            Some(function) if self.functions.starting_at(function).is_some() => {
                let comm = self
                    .image
                    .btf
                    .as_ref()
                    .ok()
                    .and_then(|btf| btf.member_offset("smp_hotplug_thread", "thread_comm"))
                    .and_then(|at| self.image.pointer_at(address.wrapping_add(at)))
                    .and_then(|name| self.image.string_at(name));
                Found::Entry(function, Some(SMPBOOT_LOOP.to_string()), comm)
            }
            Some(function) => Found::Unresolved(format!(
                "thread_fn of the smp_hotplug_thread at {address:#x} is {function:#x}, no function"
            )),
            None => Found::Unresolved(format!(
                "the smp_hotplug_thread at {address:#x} is not in the image's data"
            )),
        }
    }

    /// Whether `id` may return: a `ret`, or a jump out of it other than into its own `.cold`
    /// part (a tail call, the return thunk), or its `.cold` part returns.
    fn returns(&self, id: FunctionId) -> bool {
        let code = &self.code[id as usize];
        let cold = format!("{}.cold", self.functions.name(id));
        code.ret
            || code.calls.iter().filter(|s| s.jump).any(|s| {
                match self.functions.containing(s.target) {
                    Some(part) if self.functions.name(part) == cold => {
                        let part = &self.code[part as usize];
                        part.ret
                            || part
                                .calls
                                .iter()
                                .any(|p| p.jump && self.functions.containing(p.target) != Some(id))
                    }
                    _ => true,
                }
            })
    }

    fn is_sleep(&self, id: FunctionId) -> bool {
        self.sleeps.contains(&id)
    }

    fn in_sched_text(&self, id: FunctionId) -> bool {
        let (start, _) = self.span(id);
        self.image
            .sched_text
            .as_ref()
            .is_some_and(|range| range.contains(&start))
    }

    /// The paths by which `function` sleeps inside one of its loops: `[function, sleep]` or
    /// `[function, callee, sleep]`.
    fn loop_sleeps(&self, function: FunctionId) -> Vec<Vec<FunctionId>> {
        let mut paths = BTreeSet::new();
        for site in self.code[function as usize]
            .calls
            .iter()
            .filter(|s| s.in_loop)
        {
            let Some(callee) = self.functions.starting_at(site.target) else {
                continue;
            };
            if self.is_sleep(callee) {
                paths.insert(vec![function, callee]);
            } else if !self.in_sched_text(callee)
                && callee != function
                && !EXITS.contains(&self.functions.name(callee))
            {
                for inner in &self.code[callee as usize].calls {
                    if let Some(sleep) = self
                        .functions
                        .starting_at(inner.target)
                        .filter(|&s| self.is_sleep(s))
                    {
                        paths.insert(vec![function, callee, sleep]);
                    }
                }
            }
        }
        paths.into_iter().collect()
    }

    /// Where a kthread entered at `function` rests: its own loops, else those of the direct
    /// callees it never comes back from (a main loop of its own: a function that never returns
    /// and is not a way out of the thread, [`EXITS`]).
    fn entry_rests(&self, function: FunctionId) -> Vec<Vec<FunctionId>> {
        let own = self.loop_sleeps(function);
        if !own.is_empty() {
            return own;
        }
        let callees: BTreeSet<FunctionId> = self.code[function as usize]
            .calls
            .iter()
            .filter_map(|s| self.functions.starting_at(s.target))
            .filter(|&c| {
                c != function
                    && !self.returns(c)
                    && !self.is_sleep(c)
                    && !self.in_sched_text(c)
                    && !EXITS.contains(&self.functions.name(c))
            })
            .collect();
        callees
            .into_iter()
            .flat_map(|callee| self.loop_sleeps(callee))
            .map(|path| std::iter::once(function).chain(path).collect())
            .collect()
    }

    fn rests(&self, entries: &[KthreadEntry]) -> BTreeMap<String, Vec<Rest>> {
        let mut rests: BTreeMap<String, Vec<Rest>> = BTreeMap::new();
        for (index, entry) in entries.iter().enumerate() {
            let Some(id) = self.functions.starting_at(entry.address) else {
                continue;
            };
            // A hosted thread function is called over and over from its host's loop: its own
            // loops count, its callees' do not.
            let host = entry.host.as_deref().and_then(|h| self.address_of(h));
            let paths = match host.and_then(|h| self.functions.starting_at(h)) {
                Some(host) => {
                    let mut paths = self.loop_sleeps(id);
                    paths.extend(self.entry_rests(host));
                    paths
                }
                None => self.entry_rests(id),
            };
            for path in paths {
                let names: Vec<String> = path
                    .iter()
                    .map(|&f| self.functions.name(f).to_string())
                    .collect();
                for name in names.iter().collect::<BTreeSet<_>>() {
                    let held = rests.entry(name.clone()).or_default();
                    if !held.iter().any(|r| r.entry == index) {
                        held.push(Rest {
                            entry: index,
                            path: names.clone(),
                        });
                    }
                }
            }
        }
        rests
    }
}

/// What a creation call passes as the thread function.
enum Found {
    /// This function, the loop that runs it and the kthread's name format, when they are
    /// known from elsewhere than the call's arguments.
    Entry(u64, Option<String>, Option<String>),
    /// The caller's own first argument: the caller is a creation function too.
    Forwarded,
    /// Not known, and why.
    Unresolved(String),
}

fn constant(value: Value) -> Option<u64> {
    match value {
        Value::Const(address) => Some(address),
        _ => None,
    }
}

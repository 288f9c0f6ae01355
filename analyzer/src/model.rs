//! The model types every layer shares, below all of them: a fact that may be unknown, the
//! kernel object a symbol belongs to, and the livepatch symbol prefix. Nothing here depends on
//! another module of the crate, so the parsers (`patch`, `debuginfo`, `callgraph`) and the
//! kernel facts (`kernel`) can use them without depending on each other.

/// Prefix of livepatch symbol names (`.klp.sym.<object>.<name>,<sympos>`).
pub const KLP_SYM_PREFIX: &str = ".klp.sym.";

/// A fact about the kernel: known (with where it came from) or unknown (with why).
#[derive(Debug, Clone)]
pub enum Fact<T> {
    /// The fact and a short description of its source (a path, "running kernel", ...).
    Known {
        /// The value.
        value: T,
        /// Where it came from.
        source: String,
    },
    /// The fact could not be gathered.
    Unknown {
        /// Why (e.g. "`/sys/kernel/tracing/available_filter_functions`: permission denied").
        reason: String,
    },
}

impl<T> Fact<T> {
    /// A known fact.
    pub fn known(value: T, source: impl Into<String>) -> Self {
        Self::Known {
            value,
            source: source.into(),
        }
    }

    /// An unknown fact.
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self::Unknown {
            reason: reason.into(),
        }
    }

    /// The value, when known.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Known { value, .. } => Some(value),
            Self::Unknown { .. } => None,
        }
    }

    /// The source when known, or the reason when unknown.
    pub fn describe(&self) -> &str {
        match self {
            Self::Known { source, .. } => source,
            Self::Unknown { reason } => reason,
        }
    }
}

/// The object a kernel symbol belongs to.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum KernelObject {
    /// The core kernel image.
    Vmlinux,
    /// A loadable module, by name.
    Module(String),
}

impl KernelObject {
    /// The object for an optional module name, as livepatch's `klp_object.name` encodes it
    /// (NULL means vmlinux).
    pub fn from_module_name(name: Option<&str>) -> Self {
        match name {
            None => Self::Vmlinux,
            Some(name) => Self::Module(name.to_string()),
        }
    }
}

impl std::fmt::Display for KernelObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Vmlinux => f.write_str("vmlinux"),
            Self::Module(name) => f.write_str(name),
        }
    }
}

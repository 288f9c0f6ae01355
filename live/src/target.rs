//! The functions a live patch replaces, as the live side names them.

use serde::Serialize;

/// One function a patch replaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TargetFunction {
    /// `vmlinux` or the name of the module holding the function.
    pub object: String,
    /// The function's name.
    pub function: String,
}

impl TargetFunction {
    /// Whether the function lives in the core kernel.
    pub fn is_vmlinux(&self) -> bool {
        self.object == "vmlinux"
    }

    /// Whether a symbol seen in a kernel listing, with its optional `[module]`, is this target.
    pub fn matches(&self, function: &str, module: Option<&str>) -> bool {
        function == self.function
            && match module {
                None => self.is_vmlinux(),
                Some(module) => module == self.object,
            }
    }
}

impl std::fmt::Display for TargetFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.object, self.function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_name_and_object() {
        let core = TargetFunction {
            object: "vmlinux".into(),
            function: "cmdline_proc_show".into(),
        };
        assert!(core.matches("cmdline_proc_show", None));
        assert!(!core.matches("cmdline_proc_show", Some("ext4")));
        let module = TargetFunction {
            object: "lpc_target".into(),
            function: "lpc_target_sleep".into(),
        };
        assert!(module.matches("lpc_target_sleep", Some("lpc_target")));
        assert!(!module.matches("lpc_target_sleep", None));
        assert_eq!(module.to_string(), "lpc_target:lpc_target_sleep");
    }
}

//! The result of `lpcheck diff`: verdict, function and data sets, reasons, findings.

use schemars::JsonSchema;
use serde::Serialize;

use super::target::TargetFact;
use crate::report::envelope::{CommandName, Enveloped};
use crate::report::{Finding, Renderable, RuleDescriptor};

/// The outcome of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DiffVerdict {
    /// The changes can be made into a live patch.
    Accept,
    /// At least one change cannot be live-patched.
    Reject,
    /// Nothing functional changed.
    NoChange,
}

impl DiffVerdict {
    /// The process exit code: 0 accept, 1 reject, 3 no change (2 is "could not analyze").
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Accept => 0,
            Self::Reject => 1,
            Self::NoChange => 3,
        }
    }

    /// The verdict as printed.
    pub fn label(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::NoChange => "no-change",
        }
    }
}

/// What kind of thing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A function that exists on both sides and differs.
    Function,
    /// A function only in the patched object that the patch must contain.
    NewFunction,
    /// A function only in the original object.
    RemovedFunction,
    /// A data object that exists on both sides and differs.
    Data,
    /// A callback the patch registers (`KPATCH_PRE_PATCH_CALLBACK` and friends).
    Callback,
}

/// One changed thing with the reasons it counts as changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Change {
    /// What changed.
    pub kind: ChangeKind,
    /// Its symbol name (the original's name for things on both sides).
    pub name: String,
    /// Why it counts as changed, one per line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// The full diff report. Its JSON is the payload of the `diff` envelope ([`Enveloped`]), which
/// carries the verdict and the findings.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DiffReport {
    /// The original object.
    pub orig: String,
    /// The patched object.
    pub patched: String,
    /// The verdict.
    #[serde(skip)]
    pub verdict: DiffVerdict,
    /// Whether the object goes into vmlinux or a module.
    pub target: TargetFact,
    /// Changed functions the patch replaces (original ELF symbol names, sorted). Changed functions
    /// that cannot be replaced are left out; they appear in `changes` and in the findings.
    pub changed_functions: Vec<String>,
    /// New functions the patch must contain (ELF symbol names, sorted).
    pub new_functions: Vec<String>,
    /// Functions that exist only in the original (sorted).
    pub removed_functions: Vec<String>,
    /// Existing data objects whose contents or size changed (sorted).
    pub changed_data: Vec<String>,
    /// Every change with its reasons.
    pub changes: Vec<Change>,
    /// Rule findings.
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl Enveloped for DiffReport {
    type Verdict = DiffVerdict;
    const COMMAND: CommandName = CommandName::Diff;

    fn verdict(&self) -> DiffVerdict {
        self.verdict
    }

    fn envelope_findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }
}

impl Renderable for DiffReport {
    fn command(&self) -> &'static str {
        "diff"
    }

    fn verdict_label(&self) -> &'static str {
        self.verdict.label()
    }

    fn findings(&self) -> &[Finding] {
        &self.findings
    }

    fn primary_input(&self) -> &str {
        &self.patched
    }

    fn rules(&self) -> Vec<RuleDescriptor> {
        super::rules::ALL
            .iter()
            .map(super::rules::Rule::descriptor)
            .collect()
    }

    fn summary_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("diff {} -> {}", self.orig, self.patched)];
        for change in &self.changes {
            let label = match change.kind {
                ChangeKind::Function => "changed function",
                ChangeKind::NewFunction => "new function",
                ChangeKind::RemovedFunction => "removed function",
                ChangeKind::Data => "changed data",
                ChangeKind::Callback => "callback",
            };
            if change.reasons.is_empty() {
                lines.push(format!("  {label} {}", change.name));
            } else {
                lines.push(format!(
                    "  {label} {}: {}",
                    change.name,
                    change.reasons.join("; ")
                ));
            }
        }
        if self.changes.is_empty() {
            lines.push("  no functional change".to_string());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::human;

    fn report(verdict: DiffVerdict) -> DiffReport {
        DiffReport {
            orig: "a.o".into(),
            patched: "b.o".into(),
            verdict,
            target: TargetFact {
                kind: None,
                evidence: "none".into(),
            },
            changed_functions: vec!["f".into()],
            new_functions: vec!["g".into()],
            removed_functions: Vec::new(),
            changed_data: Vec::new(),
            changes: vec![Change {
                kind: ChangeKind::Function,
                name: "f".into(),
                reasons: vec!["size 3 -> 4 bytes".into()],
            }],
            findings: Vec::new(),
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let json: serde_json::Value =
            serde_json::from_str(&report(DiffVerdict::NoChange).to_json()).unwrap();
        assert_eq!(json["verdict"], "no-change");
        assert_eq!(json["command"], "diff");
        assert_eq!(json["changed_functions"][0], "f");
        assert_eq!(json["new_functions"][0], "g");
        assert!(json["findings"].as_array().unwrap().is_empty());
    }

    #[test]
    fn human_output_lists_changes_and_verdict() {
        let text = human::render(&report(DiffVerdict::Accept));
        assert!(
            text.contains("changed function f: size 3 -> 4 bytes"),
            "{text}"
        );
        assert!(
            text.ends_with("diff: accept (0 error(s), 0 warning(s), 0 note(s), 0 waived)\n"),
            "{text}"
        );
        assert_eq!(DiffVerdict::Reject.exit_code(), 1);
        assert_eq!(DiffVerdict::NoChange.exit_code(), 3);
    }
}

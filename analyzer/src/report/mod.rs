//! Findings, verdicts, and the three renderings of a report (human, JSON, SARIF).

use std::fmt::Write as _;
pub mod envelope;
pub mod human;
pub mod sarif;
pub mod style;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How serious a finding is. Only errors reject a patch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Note,
    /// Worth a look; does not reject.
    Warning,
    /// Rejects the patch.
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Note => "note",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// The outcome of `lpcheck check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No error finding, and every enabled error rule could run (or `--allow-unknown` was
    /// given, which the report says).
    Accept,
    /// At least one error finding that is not waived.
    Reject,
    /// No error finding, but a fact some error rule needs is unknown: the gate fails closed.
    Inconclusive,
}

impl Verdict {
    /// The verdict for a set of findings: reject when any unwaived finding is an error; else
    /// inconclusive when some error rule could not run (`facts_missing`) and unknowns are not
    /// allowed; else accept.
    pub fn of(findings: &[Finding], facts_missing: bool, allow_unknown: bool) -> Self {
        if findings.iter().any(Finding::rejects) {
            Self::Reject
        } else if facts_missing && !allow_unknown {
            Self::Inconclusive
        } else {
            Self::Accept
        }
    }

    /// The verdict as JSON and the human report spell it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::Inconclusive => "inconclusive",
        }
    }

    /// The process exit code for this verdict (0 accept, 1 reject or inconclusive).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Accept => 0,
            Self::Reject | Self::Inconclusive => 1,
        }
    }
}

/// Where in an input file a finding points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Location {
    /// The file.
    pub file: String,
    /// A section of it, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Byte offset inside the section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// A symbol the finding is about (e.g. the replacement function).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Where that symbol is defined in source, when the input's DWARF says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceLine>,
}

/// A line of a source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceLine {
    /// The file, as the compiler named it (absolute when the compilation directory is known).
    pub file: String,
    /// The line, from 1.
    pub line: u32,
}

impl Location {
    /// A location naming only the file.
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            section: None,
            offset: None,
            symbol: None,
            source: None,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        if let Some(section) = &self.section {
            write!(f, ": {section}")?;
            if let Some(offset) = self.offset {
                write!(f, "+{offset:#x}")?;
            }
        }
        if let Some(symbol) = &self.symbol {
            write!(f, " ({symbol}")?;
            if let Some(source) = &self.source {
                write!(f, " at {}:{}", source.file, source.line)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// An explicit decision to accept a finding, shown in every output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Waiver {
    /// Why the finding is accepted (required in waiver files).
    pub reason: String,
    /// The rule file the waiver comes from.
    pub source: String,
}

/// One finding: a rule that matched, with what it matched and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// The rule's stable id (e.g. `LP001`).
    pub rule: String,
    /// The rule's short name (e.g. `always-on-stack`).
    pub name: String,
    /// Severity after overrides.
    pub severity: Severity,
    /// The rendered message.
    pub message: String,
    /// The function or symbol the finding is about, as `object:name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Facts that support the finding, one per line.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub evidence: Vec<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Where to read more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Where in the input the finding points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Present when the finding was explicitly waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<Waiver>,
}

impl Finding {
    /// Whether this finding makes the verdict a reject.
    pub fn rejects(&self) -> bool {
        self.severity == Severity::Error && self.waiver.is_none()
    }
}

/// Counts of findings by severity, for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tally {
    /// Unwaived errors.
    pub errors: usize,
    /// Unwaived warnings.
    pub warnings: usize,
    /// Unwaived notes.
    pub notes: usize,
    /// Waived findings of any severity.
    pub waived: usize,
}

impl Tally {
    /// Counts `findings`.
    pub fn of(findings: &[Finding]) -> Self {
        let mut tally = Self::default();
        for finding in findings {
            match (&finding.waiver, finding.severity) {
                (Some(_), _) => tally.waived += 1,
                (None, Severity::Error) => tally.errors += 1,
                (None, Severity::Warning) => tally.warnings += 1,
                (None, Severity::Note) => tally.notes += 1,
            }
        }
        tally
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} error(s), {} warning(s), {} note(s), {} waived",
            self.errors, self.warnings, self.notes, self.waived
        )
    }
}

/// A rule as reports describe it: what it checks, why, and where to read more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDescriptor {
    /// Stable id (`LP001`, `LD003`).
    pub id: String,
    /// Short kebab-case name.
    pub name: String,
    /// Default severity of its findings.
    pub severity: Severity,
    /// One sentence: what the rule finds.
    pub summary: String,
    /// Why it matters and what to do about a finding.
    pub hint: Option<String>,
    /// Where to read more (a URL, or a kernel `Documentation/` path).
    pub reference: Option<String>,
}

/// Where the kernel's documentation is published.
const KERNEL_DOCS: &str = "https://docs.kernel.org/";

/// Where kpatch's sources and documentation are published (references `kpatch PATH`).
const KPATCH_SOURCE: &str = "https://github.com/dynup/kpatch/blob/master/";

impl RuleDescriptor {
    /// The rule's page in this repository (`docs/rules/ID.md`).
    pub fn doc_page(&self) -> String {
        format!("docs/rules/{}.md", self.id)
    }

    /// An absolute URL for the reference: itself when it is one, the docs.kernel.org page of a
    /// kernel `Documentation/….rst` path, kpatch's file for `kpatch PATH`, else none.
    pub fn reference_url(&self) -> Option<String> {
        let reference = self.reference.as_deref()?;
        if reference.starts_with("https://") {
            return Some(reference.to_string());
        }
        if let Some(path) = reference.strip_prefix("kpatch ") {
            let path = path.split_whitespace().next()?;
            return Some(format!("{KPATCH_SOURCE}{path}"));
        }
        let page = reference.strip_prefix("Documentation/")?;
        let page = page.split_whitespace().next()?.strip_suffix(".rst")?;
        Some(format!("{KERNEL_DOCS}{page}.html"))
    }

    /// The rule's documentation in Markdown (the text of its `docs/rules/ID.md` page).
    pub fn markdown(&self) -> String {
        let mut text = format!(
            "# {}: {}\n\nDefault severity: **{}**.\n\n{}\n",
            self.id, self.name, self.severity, self.summary
        );
        if let Some(hint) = &self.hint {
            let _ = write!(text, "\n## What to do\n\n{hint}\n");
        }
        match (self.reference_url(), &self.reference) {
            (Some(url), _) => {
                let _ = write!(text, "\n## Read more\n\n<{url}>\n");
            }
            (None, Some(reference)) => {
                let _ = write!(text, "\n## Read more\n\n{reference}\n");
            }
            (None, None) => {}
        }
        text
    }
}

/// What the human and SARIF renderers need from a report.
pub trait Renderable {
    /// The tool's command (`check`, `diff`).
    fn command(&self) -> &'static str;
    /// The verdict as printed (`accept`, `reject`, `no-change`).
    fn verdict_label(&self) -> &'static str;
    /// The findings, in report order.
    fn findings(&self) -> &[Finding];
    /// The primary input file.
    fn primary_input(&self) -> &str;
    /// Lines summarizing what was analyzed (printed before the findings in human output).
    fn summary_lines(&self) -> Vec<String>;
    /// Every rule the run applied, whether or not it found anything.
    fn rules(&self) -> Vec<RuleDescriptor>;

    /// The facts that rules needed and did not have, one line each (none by default).
    fn missing_facts(&self) -> Vec<String> {
        Vec::new()
    }
}

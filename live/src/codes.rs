//! The registry of every diagnostic code lpcheck reports: the check rules (`LPnnn`, data in
//! `rules/default.toml`), the diff rules (`LDnnn`), `lpcheck preflight`'s host checks
//! (`PFnnn`), the checks `apply` adds before loading (`APnnn`) and the kexec preconditions
//! (`KXnnn`). `lpcheck codes` lists them and `lpcheck explain CODE` prints one's page; the
//! rules' pages are `docs/rules/`, the checks' `docs/codes/` (a test keeps both equal to what
//! this data renders). Codes are never reused: a retired one ([`RETIRED`]) finds the code
//! that does its job now.

use std::fmt::Write as _;

use lpcheck_analyzer::report::envelope::SCHEMA_VERSION;
use lpcheck_analyzer::report::{Finding, RuleDescriptor, Severity};
use lpcheck_analyzer::rule_docs::builtin_rules;
use schemars::JsonSchema;
use serde::Serialize;

use crate::apply_preflight::PreflightCheck;
use crate::kexec::host::KexecCheckId;
use crate::preflight::{CheckId, Status};

/// Which kind of check a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// A rule of `lpcheck check` (`LP`).
    CheckRule,
    /// A rule of `lpcheck diff` (`LD`).
    DiffRule,
    /// A host check of `lpcheck preflight` (`PF`), which `apply` runs too.
    Preflight,
    /// A check `apply` makes itself before loading (`AP`).
    ApplyPreflight,
    /// A precondition of `lpcheck kexec` (`KX`).
    Kexec,
}

impl Family {
    /// Every family, in the registry's order.
    pub const ALL: [Self; 5] = [
        Self::CheckRule,
        Self::DiffRule,
        Self::Preflight,
        Self::ApplyPreflight,
        Self::Kexec,
    ];

    /// The letters its codes start with.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::CheckRule => "LP",
            Self::DiffRule => "LD",
            Self::Preflight => "PF",
            Self::ApplyPreflight => "AP",
            Self::Kexec => "KX",
        }
    }

    /// The commands that report it.
    pub fn commands(self) -> &'static str {
        match self {
            Self::CheckRule => "`lpcheck check` (and the static verdict of `apply`, `install`)",
            Self::DiffRule => "`lpcheck diff`",
            Self::Preflight => "`lpcheck preflight` and `lpcheck apply`",
            Self::ApplyPreflight => "`lpcheck apply` (its preflight, in the journal)",
            Self::Kexec => "`lpcheck kexec`",
        }
    }
}

/// One diagnostic code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Code {
    /// The stable code (`LP001`, `PF011`).
    pub code: String,
    /// Its family.
    pub family: Family,
    /// Its stable kebab-case name (as JSON and the human output spell the check).
    pub name: String,
    /// The severity of its findings by default: for a rule, the rule's; for a check, that of
    /// its worst result (`error` for a check that can fail, `warning` for one that only warns).
    pub severity: Severity,
    /// What it finds, in one sentence.
    pub summary: String,
    /// Its page in this repository.
    pub doc: String,
    /// Where to read more (a URL), when there is such a place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// What to do about a finding (rules only).
    #[serde(skip)]
    hint: Option<String>,
    /// The rule's page text (rules only; the checks' pages are rendered here).
    #[serde(skip)]
    rule_page: Option<String>,
}

impl Code {
    fn of_rule(rule: &RuleDescriptor, family: Family) -> Self {
        Self {
            code: rule.id.clone(),
            family,
            name: rule.name.clone(),
            severity: rule.severity,
            summary: rule.summary.clone(),
            doc: rule.doc_page(),
            reference: rule.reference_url(),
            hint: rule.hint.clone(),
            rule_page: Some(rule.markdown()),
        }
    }

    fn of_check(code: &str, family: Family, name: &str, severity: Severity, summary: &str) -> Self {
        Self {
            code: code.to_string(),
            family,
            name: name.to_string(),
            severity,
            summary: summary.to_string(),
            doc: format!("docs/codes/{code}.md"),
            reference: None,
            hint: None,
            rule_page: None,
        }
    }

    /// The code's page in Markdown (the text of its `doc` page).
    pub fn markdown(&self) -> String {
        if let Some(page) = &self.rule_page {
            return page.clone();
        }
        format!(
            "# {code}: {name}\n\nReported by {commands}. Severity of its worst result: \
             **{severity}**.\n\n{summary}\n\n\
             ## Results\n\nEach run gives the check one status, with the evidence read: \
             `pass`; `warn` (it holds, with something to know: a warning finding); `fail` (it \
             does not hold: an error finding, and the command refuses); or `unknown` (the fact \
             could not be read, never a pass: {unknown}).\n",
            code = self.code,
            name = self.name,
            commands = self.family.commands(),
            severity = self.severity,
            summary = self.summary,
            unknown = match self.family {
                Family::Preflight => {
                    "a warning, an error with `--strict`; `apply` refuses unless \
                     `--accept-unknown`"
                }
                Family::ApplyPreflight => "`apply` refuses unless `--accept-unknown`",
                _ => "an error: the kexec plan is not known to be possible",
            },
        )
    }

    /// A finding of this code with `message` and `evidence`, at `severity`.
    pub fn finding(&self, severity: Severity, message: &str, evidence: Vec<String>) -> Finding {
        Finding {
            rule: self.code.clone(),
            name: self.name.clone(),
            severity,
            message: message.to_string(),
            target: None,
            evidence,
            hint: self.hint.clone(),
            reference: self.reference.clone(),
            location: None,
            waiver: None,
        }
    }
}

/// The severity of `lpcheck preflight`'s worst result for `id`.
fn preflight_severity(id: CheckId) -> Severity {
    match id {
        CheckId::Lockdown | CheckId::Taint | CheckId::BpfAttachments => Severity::Warning,
        _ => Severity::Error,
    }
}

/// The registry entry of a preflight check.
pub fn preflight_code(id: CheckId) -> Code {
    Code::of_check(
        id.code(),
        Family::Preflight,
        id.name(),
        preflight_severity(id),
        id.summary(),
    )
}

/// The registry entry of a kexec precondition.
pub fn kexec_code(id: KexecCheckId) -> Code {
    Code::of_check(
        id.code(),
        Family::Kexec,
        id.name(),
        Severity::Error,
        id.summary(),
    )
}

/// Every code, family by family, in code order.
pub fn registry() -> Vec<Code> {
    let rules = builtin_rules();
    let rule_family = |rule: &RuleDescriptor| {
        if rule.id.starts_with(Family::DiffRule.prefix()) {
            Family::DiffRule
        } else {
            Family::CheckRule
        }
    };
    let mut codes: Vec<Code> = rules
        .iter()
        .map(|rule| Code::of_rule(rule, rule_family(rule)))
        .collect();
    codes.extend(CheckId::ALL.into_iter().map(preflight_code));
    codes.extend(PreflightCheck::OWN.into_iter().map(|check| {
        Code::of_check(
            check.code(),
            Family::ApplyPreflight,
            check.into(),
            Severity::Error,
            check.summary(),
        )
    }));
    codes.extend(KexecCheckId::ALL.into_iter().map(kexec_code));
    codes
}

/// A code retired when its check became one of `lpcheck preflight`'s: `apply` ran its own
/// version of that check before it ran preflight's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredCode {
    /// The retired code.
    pub code: &'static str,
    /// Its check's name, as journals written before spell it.
    pub name: &'static str,
    /// The code of the check that does its job now.
    pub now: &'static str,
}

/// Every retired code, in code order.
pub const RETIRED: [RetiredCode; 5] = [
    RetiredCode {
        code: "AP002",
        name: "vermagic",
        now: "PF001",
    },
    RetiredCode {
        code: "AP003",
        name: "livepatch-support",
        now: "PF002",
    },
    RetiredCode {
        code: "AP004",
        name: "not-loaded",
        now: "PF013",
    },
    RetiredCode {
        code: "AP005",
        name: "no-transition",
        now: "PF013",
    },
    RetiredCode {
        code: "AP006",
        name: "kprobes",
        now: "PF011",
    },
];

/// The retired code `query` names: its code (any case), or its old name when no current code
/// has that name.
pub fn retired(query: &str) -> Option<RetiredCode> {
    let by_code = RETIRED
        .into_iter()
        .find(|r| r.code.eq_ignore_ascii_case(query));
    by_code.or_else(|| {
        let current = registry().iter().any(|c| c.name == query);
        RETIRED.into_iter().find(|r| !current && r.name == query)
    })
}

/// The code `query` names: a code (any case), or a name only one code has; a retired code (or
/// its old name) names the code that replaced it.
pub fn find(query: &str) -> Result<Code, String> {
    let codes = registry();
    if let Some(old) = retired(query) {
        if let Some(code) = codes.iter().find(|c| c.code == old.now) {
            return Ok(code.clone());
        }
    }
    if let Some(code) = codes.iter().find(|c| c.code.eq_ignore_ascii_case(query)) {
        return Ok(code.clone());
    }
    let named: Vec<&Code> = codes.iter().filter(|c| c.name == query).collect();
    match named.as_slice() {
        [code] => Ok((*code).clone()),
        [] => Err(format!(
            "{query}: no such code or name (`lpcheck codes` lists them)"
        )),
        several => Err(format!(
            "{query}: the name of {}: give the code",
            several
                .iter()
                .map(|c| c.code.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The finding severity of a check result: a failure is an error; a warning a warning; an
/// unknown an error when it stops the command (`unknown_blocks`), else a warning; a pass none.
pub fn status_severity(status: Status, unknown_blocks: bool) -> Option<Severity> {
    match status {
        Status::Pass => None,
        Status::Warn => Some(Severity::Warning),
        Status::Fail => Some(Severity::Error),
        Status::Unknown if unknown_blocks => Some(Severity::Error),
        Status::Unknown => Some(Severity::Warning),
    }
}

/// The JSON of `lpcheck codes --format json`: the registry, versioned like every output.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CodeList {
    /// The schema version of every lpcheck JSON output.
    pub schema_version: u32,
    /// Every code.
    pub codes: Vec<Code>,
}

impl CodeList {
    /// The whole registry.
    pub fn all() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            codes: registry(),
        }
    }

    /// One line per code: code, severity, name, summary.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for code in &self.codes {
            let _ = writeln!(
                out,
                "{:<6} {:<8} {:<32} {}",
                code.code,
                code.severity.to_string(),
                code.name,
                code.summary
            );
        }
        out
    }
}

/// The index page of `docs/codes/`: every code with its page, then the retired codes.
pub fn index_page(codes: &[Code]) -> String {
    let mut text = String::from(
        "# lpcheck diagnostic codes\n\n\
         Every code a finding, check result or JSON output of lpcheck can carry \
         (`lpcheck codes` prints this list, `lpcheck explain CODE` a code's page). The rules' \
         pages are in [../rules](../rules/README.md); the checks' pages are here. Each is \
         rendered from lpcheck's data.\n\n\
         | Code | Name | Severity | Reported by | Finds |\n|---|---|---|---|---|\n",
    );
    for code in codes {
        let page = code.doc.strip_prefix("docs/codes/").map_or_else(
            || format!("../{}", code.doc.trim_start_matches("docs/")),
            str::to_string,
        );
        let _ = writeln!(
            text,
            "| [{id}]({page}) | {name} | {severity} | {commands} | {summary} |",
            id = code.code,
            name = code.name,
            severity = code.severity,
            commands = code.family.commands(),
            summary = code.summary.replace('|', "\\|"),
        );
    }
    text.push_str(
        "\n## Retired codes\n\n\
         `lpcheck apply` once ran its own versions of some of `lpcheck preflight`'s checks; it \
         runs preflight's now. Their codes are not reused: `lpcheck explain` takes them (or \
         their old names) and prints the page of the code that replaced them.\n\n\
         | Code | Old name | Now |\n|---|---|---|\n",
    );
    for old in RETIRED {
        let _ = writeln!(
            text,
            "| {} | {} | [{now}]({now}.md) |",
            old.code,
            old.name,
            now = old.now
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_numbered_per_family() {
        let codes = registry();
        let unique: BTreeSet<&str> = codes.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(unique.len(), codes.len(), "a code is listed twice");
        for family in Family::ALL {
            let numbers: Vec<u32> = codes
                .iter()
                .filter(|c| c.family == family)
                .map(|c| {
                    let digits = c
                        .code
                        .strip_prefix(family.prefix())
                        .unwrap_or_else(|| panic!("{} is not a {} code", c.code, family.prefix()));
                    assert_eq!(digits.len(), 3, "{}", c.code);
                    digits.parse().unwrap()
                })
                .collect();
            let expected: Vec<u32> = (1..=u32::try_from(numbers.len()).unwrap()).collect();
            assert_eq!(numbers, expected, "{family:?} codes are not 001.. in order");
        }
        for code in &codes {
            assert!(
                code.summary.ends_with('.'),
                "{}: {}",
                code.code,
                code.summary
            );
            assert!(
                code.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}: {}",
                code.code,
                code.name
            );
        }
    }

    #[test]
    fn every_check_the_commands_run_has_a_code() {
        let codes: BTreeSet<String> = registry().into_iter().map(|c| c.code).collect();
        let emitted = CheckId::ALL
            .into_iter()
            .map(CheckId::code)
            .chain(PreflightCheck::OWN.into_iter().map(PreflightCheck::code))
            .chain(
                CheckId::HOST
                    .into_iter()
                    .map(|id| PreflightCheck::Host(id).code()),
            )
            .chain(RETIRED.into_iter().map(|old| old.now))
            .chain(KexecCheckId::ALL.into_iter().map(KexecCheckId::code));
        for code in emitted {
            assert!(codes.contains(code), "{code} is not in the registry");
        }
        for rule in lpcheck_analyzer::rules::RuleSet::default_rules().rules {
            assert!(
                codes.contains(&rule.id),
                "{} is not in the registry",
                rule.id
            );
        }
        for rule in lpcheck_analyzer::diff::rules::ALL {
            assert!(
                codes.contains(rule.id),
                "{} is not in the registry",
                rule.id
            );
        }
    }

    #[test]
    fn names_are_the_json_spellings() {
        for id in KexecCheckId::ALL {
            assert_eq!(serde_json::to_value(id).unwrap(), id.name());
        }
        for id in CheckId::ALL {
            assert_eq!(serde_json::to_value(id).unwrap(), id.name());
        }
    }

    #[test]
    fn find_takes_a_code_or_a_unique_name() {
        assert_eq!(find("lp001").unwrap().name, "always-on-stack");
        assert_eq!(find("always-on-stack").unwrap().code, "LP001");
        assert_eq!(find("ftrace-conflicts").unwrap().code, "PF010");
        let shared = find("unused-waiver").unwrap_err();
        assert!(
            shared.contains("LP022") && shared.contains("LD016"),
            "{shared}"
        );
        assert!(find("LP999").unwrap_err().contains("no such code"));
    }

    #[test]
    fn a_retired_code_finds_its_successor_and_is_never_reused() {
        assert_eq!(find("ap006").unwrap().code, "PF011");
        assert_eq!(find("no-transition").unwrap().code, "PF013");
        assert_eq!(
            find("kprobes").unwrap().code,
            "PF011",
            "one check, one code"
        );
        assert_eq!(retired("vermagic").map(|r| r.now), Some("PF001"));
        assert_eq!(retired("AP001"), None);
        let codes: BTreeSet<String> = registry().into_iter().map(|c| c.code).collect();
        for old in RETIRED {
            assert!(!codes.contains(old.code), "{} is reused", old.code);
        }
        assert!(index_page(&registry()).contains("| AP006 | kprobes | [PF011](PF011.md) |"));
    }

    #[test]
    fn a_rule_explains_with_its_rule_page_and_a_check_with_its_own() {
        let rule = find("LD003").unwrap();
        assert!(rule.markdown().starts_with("# LD003: static-data-change\n"));
        assert_eq!(rule.doc, "docs/rules/LD003.md");
        let check = find("KX004").unwrap();
        let page = check.markdown();
        assert!(page.starts_with("# KX004: kexec-load-disabled\n"), "{page}");
        assert!(page.contains("`lpcheck kexec`") && page.contains(check.summary.as_str()));
        let finding = check.finding(Severity::Error, "disabled", vec!["read 1".into()]);
        assert_eq!(
            (finding.rule.as_str(), finding.name.as_str()),
            ("KX004", "kexec-load-disabled")
        );
    }

    #[test]
    fn status_severities() {
        assert_eq!(status_severity(Status::Pass, true), None);
        assert_eq!(status_severity(Status::Warn, true), Some(Severity::Warning));
        assert_eq!(status_severity(Status::Fail, false), Some(Severity::Error));
        assert_eq!(
            status_severity(Status::Unknown, false),
            Some(Severity::Warning)
        );
        assert_eq!(
            status_severity(Status::Unknown, true),
            Some(Severity::Error)
        );
    }

    #[test]
    fn checked_in_pages_match_the_registry() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = root.join("docs/codes");
        let codes = registry();
        let mut pages: Vec<(String, String)> = codes
            .iter()
            .filter(|c| c.doc.starts_with("docs/codes/"))
            .map(|c| (c.doc.clone(), c.markdown()))
            .collect();
        pages.push(("docs/codes/README.md".into(), index_page(&codes)));
        if std::env::var_os("LPCHECK_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            for (page, text) in &pages {
                std::fs::write(root.join(page), text).unwrap();
            }
        }
        for (page, text) in &pages {
            let found = std::fs::read_to_string(root.join(page)).unwrap_or_default();
            assert!(
                found == *text,
                "{page} is out of date with the registry; rerun with LPCHECK_BLESS=1"
            );
        }
        for code in &codes {
            assert!(
                root.join(&code.doc).is_file(),
                "{}: no page {}",
                code.code,
                code.doc
            );
        }
        let on_disk = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            on_disk,
            pages.len(),
            "a page in {} has no code",
            dir.display()
        );
    }
}

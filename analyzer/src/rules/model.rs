//! Rules as data: the TOML schema, the default set in `rules/default.toml`, user overrides and
//! waivers.
//!
//! ```toml
//! [[rule]]
//! id = "LP001"                  # stable id
//! name = "always-on-stack"      # short kebab-case name
//! severity = "error"            # error | warning | note
//! summary = "what it finds, in one sentence"
//! message = "`{target}` is always on some task's stack"
//! hint = "what to do instead"
//! reference = "where to read more"
//! check = { kind = "target-name", names = ["schedule", "__schedule"] }
//!
//! [[waiver]]
//! rule = "LP001"                # id or name
//! target = "vmlinux:schedule"   # optional pattern on `object:function`
//! reason = "why this is accepted (required)"
//! ```
//! A user file may add rules (all fields), override fields of an existing rule by id (any
//! subset, e.g. only `severity`), disable one (`enabled = false`) and declare waivers.

use std::path::Path;

use serde::Deserialize;

use crate::error::{AnalyzeError, Result};
use crate::kernel::regions::TextRegion;
use crate::report::{RuleDescriptor, Severity};

/// The default rule set, compiled in from `rules/default.toml`.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/default.toml");

/// What a rule looks for. The set of checks is closed (they are code); rules choose among them
/// and give them their data.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// A target whose name matches one of the patterns.
    TargetName {
        /// Name patterns (`*`, `?`).
        names: Vec<String>,
    },
    /// A target whose address lies in one of the regions.
    TargetRegion {
        /// Regions (`init`, `sched`, `cpuidle`, `noinstr`, `entry`, ...).
        regions: Vec<TextRegion>,
    },
    /// A target absent from the kernel's symbols.
    TargetMissing,
    /// A target in a module that is not loaded: it is checked only when the module loads.
    TargetObjectAbsent,
    /// A target name shared by several symbols while `old_sympos` is 0.
    TargetAmbiguous,
    /// An `old_sympos` beyond the number of symbols of that name.
    TargetSymposInvalid,
    /// A target with no ftrace call site at its address.
    TargetNotFtraceable,
    /// A target on the stack of a kthread that was sleeping when the host's facts were
    /// collected (`kthread-stacks.tsv`): the kthread's resting place.
    TargetKthreadRest,
    /// A target in which a kthread sleeps in a loop, found statically from the vmlinux's code
    /// (its entry from the code that creates it, the loop around a sleep in its code).
    TargetKthreadLoop,
    /// A `.klp.sym` symbol that does not resolve (missing, ambiguous or bad position).
    KlpSymbolUnresolvable,
    /// New code (replacement functions and what they reach) calls code in these regions, or
    /// the module's own `.init.text`.
    NewCodeCallsRegion {
        /// Kernel regions whose code must not be called.
        regions: Vec<TextRegion>,
    },
    /// New code uses module-private data that shadows kernel static data of the same name.
    StaticDataCopy,
    /// The module is not marked `livepatch=Y`.
    NotLivepatchModule,
    /// No patched function could be found in the module.
    NoPatchedFunctions,
    /// The module's vermagic release differs from the kernel's.
    VermagicMismatch,
    /// A kernel fact the other checks need is unknown.
    FactUnknown,
    /// The patch uses atomic replace: it will replace every loaded livepatch.
    AtomicReplace,
    /// A target was inlined into functions the patch does not replace (debug vmlinux).
    InlinedCopy,
    /// A target has compiler copies (`.isra`, `.constprop`, `.part` reached from elsewhere) the
    /// patch does not replace.
    UnpatchedCopy,
    /// A replacement's prototype (module DWARF) differs from the original's (kernel BTF).
    PrototypeMismatch,
    /// A waiver that covered no finding (its rule did not fire, or its target never matched).
    /// Runs after every other rule.
    UnusedWaiver,
}

/// A rule as written in a file: every field optional, so overrides can be partial.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleEntry {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) severity: Option<Severity>,
    pub(crate) summary: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) hint: Option<String>,
    pub(crate) reference: Option<String>,
    pub(crate) check: Option<Check>,
    pub(crate) enabled: Option<bool>,
}

/// A waiver as written in a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaiverEntry {
    pub(crate) rule: String,
    pub(crate) target: Option<String>,
    pub(crate) reason: String,
}

/// A rule file as written: the format `lpcheck check` and `lpcheck diff` share.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    #[serde(default)]
    pub(crate) rule: Vec<RuleEntry>,
    #[serde(default)]
    pub(crate) waiver: Vec<WaiverEntry>,
}

impl RuleFile {
    /// Parses TOML `text` (`source` names it in errors); every waiver must give a reason.
    pub(crate) fn parse(text: &str, source: &str) -> Result<Self> {
        let file: Self = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(0, |span| text[..span.start].lines().count().max(1));
            bad_rule_file(source, line, e.message().to_string())
        })?;
        if let Some(waiver) = file.waiver.iter().find(|w| w.reason.trim().is_empty()) {
            return Err(bad_rule_file(
                source,
                0,
                format!("waiver for `{}` has no reason", waiver.rule),
            ));
        }
        Ok(file)
    }
}

/// An error in rule file `source` at `line` (0 when unknown).
pub(crate) fn bad_rule_file(source: &str, line: usize, detail: String) -> AnalyzeError {
    AnalyzeError::BadText {
        path: source.into(),
        line,
        detail,
    }
}

/// A rule set that rule files merge into: the rules of `lpcheck check` ([`RuleSet`]) and of
/// `lpcheck diff` (`DiffRules`).
pub(crate) trait MergeRules {
    /// Adds or overrides the rule of one `[[rule]]` entry of `source`; `Err` says what is wrong
    /// with the entry.
    fn merge_rule(&mut self, entry: RuleEntry, source: &str) -> std::result::Result<(), String>;
    /// Why a `[[waiver]]` naming `rule` (id or name) is refused; `None` when the set has it.
    fn refuse_waiver(&self, rule: &str) -> Option<String>;
    /// The waivers, in file order, that a file's waivers are added to.
    fn waivers_mut(&mut self) -> &mut Vec<WaiverRule>;
}

/// Merges the rule file at `path` into `set`.
pub(crate) fn merge_rule_file(set: &mut impl MergeRules, path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| AnalyzeError::io(path, e))?;
    merge_rule_text(set, &text, &path.display().to_string())
}

/// Merges rule-file text (`source` names it in errors) into `set`: every `[[rule]]` first, then
/// every `[[waiver]]`, each checked against the rules as the file's entries left them.
pub(crate) fn merge_rule_text(set: &mut impl MergeRules, text: &str, source: &str) -> Result<()> {
    let file = RuleFile::parse(text, source)?;
    for entry in file.rule {
        set.merge_rule(entry, source)
            .map_err(|detail| bad_rule_file(source, 0, detail))?;
    }
    for waiver in file.waiver {
        if let Some(detail) = set.refuse_waiver(&waiver.rule) {
            return Err(bad_rule_file(source, 0, detail));
        }
        set.waivers_mut().push(WaiverRule {
            rule: waiver.rule,
            target: waiver.target,
            reason: waiver.reason,
            source: source.to_string(),
        });
    }
    Ok(())
}

/// A complete rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// Severity.
    pub severity: Severity,
    /// What it finds, in one sentence (the name when a user rule gives none).
    pub summary: String,
    /// Message template; `{placeholders}` are filled from the match.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Where to read more.
    pub reference: Option<String>,
    /// What it checks.
    pub check: Check,
    /// Whether it runs.
    pub enabled: bool,
    /// The file that defined or last changed it.
    pub source: String,
}

impl Rule {
    /// How reports describe this rule.
    pub fn descriptor(&self) -> RuleDescriptor {
        RuleDescriptor {
            id: self.id.clone(),
            name: self.name.clone(),
            severity: self.severity,
            summary: self.summary.clone(),
            hint: self.hint.clone(),
            reference: self.reference.clone(),
        }
    }
}

/// An explicit acceptance of a rule's findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaiverRule {
    /// Rule id or name.
    pub rule: String,
    /// Optional pattern on the finding's target (`object:function`).
    pub target: Option<String>,
    /// Why.
    pub reason: String,
    /// The file it comes from.
    pub source: String,
}

impl WaiverRule {
    /// Whether this waiver covers a finding of `rule` (id or name) about `target`.
    pub fn covers(&self, rule: &Rule, target: Option<&str>) -> bool {
        let rule_matches = self.rule == rule.id || self.rule == rule.name;
        rule_matches && self.covers_target(target)
    }

    /// Whether this waiver's target pattern (if any) covers a finding about `target`: a waiver
    /// without a pattern covers every finding, one with a pattern only findings with a target.
    pub fn covers_target(&self, target: Option<&str>) -> bool {
        match (&self.target, target) {
            (None, _) => true,
            (Some(pattern), Some(target)) => super::glob::matches(pattern, target),
            (Some(_), None) => false,
        }
    }
}

/// The rules in force and the waivers declared.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Rules, in definition order.
    pub rules: Vec<Rule>,
    /// Waivers.
    pub waivers: Vec<WaiverRule>,
}

impl RuleSet {
    /// The default rules.
    pub fn default_rules() -> Self {
        let mut set = Self::default();
        set.merge_text(DEFAULT_RULES, "rules/default.toml")
            .expect("the built-in rule file is valid");
        set
    }

    /// Adds or overrides rules and waivers from the file at `path`.
    pub fn merge_file(&mut self, path: &Path) -> Result<()> {
        merge_rule_file(self, path)
    }

    /// Adds or overrides rules and waivers from TOML text (`source` names it in errors).
    pub fn merge_text(&mut self, text: &str, source: &str) -> Result<()> {
        merge_rule_text(self, text, source)
    }
}

impl MergeRules for RuleSet {
    fn merge_rule(&mut self, entry: RuleEntry, source: &str) -> std::result::Result<(), String> {
        if let Some(existing) = self.rules.iter_mut().find(|r| r.id == entry.id) {
            if let Some(name) = entry.name {
                existing.name = name;
            }
            if let Some(severity) = entry.severity {
                existing.severity = severity;
            }
            if let Some(summary) = entry.summary {
                existing.summary = summary;
            }
            if let Some(message) = entry.message {
                existing.message = message;
            }
            if entry.hint.is_some() {
                existing.hint = entry.hint;
            }
            if entry.reference.is_some() {
                existing.reference = entry.reference;
            }
            if let Some(check) = entry.check {
                existing.check = check;
            }
            if let Some(enabled) = entry.enabled {
                existing.enabled = enabled;
            }
            existing.source = source.to_string();
            return Ok(());
        }
        let missing = |field: &str| format!("new rule `{}` needs `{field}`", entry.id);
        let name = entry.name.ok_or_else(|| missing("name"))?;
        self.rules.push(Rule {
            summary: entry.summary.unwrap_or_else(|| name.replace('-', " ")),
            name,
            severity: entry.severity.ok_or_else(|| missing("severity"))?,
            message: entry.message.ok_or_else(|| missing("message"))?,
            check: entry.check.ok_or_else(|| missing("check"))?,
            hint: entry.hint,
            reference: entry.reference,
            enabled: entry.enabled.unwrap_or(true),
            source: source.to_string(),
            id: entry.id,
        });
        Ok(())
    }

    fn refuse_waiver(&self, rule: &str) -> Option<String> {
        let known = self.rules.iter().any(|r| r.id == rule || r.name == rule);
        (!known).then(|| format!("waiver names unknown rule `{rule}`"))
    }

    fn waivers_mut(&mut self) -> &mut Vec<WaiverRule> {
        &mut self.waivers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_load_with_unique_ids() {
        let set = RuleSet::default_rules();
        assert!(set.rules.len() >= 15);
        let mut ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), set.rules.len());
    }

    #[test]
    fn user_files_override_add_and_waive() {
        let mut set = RuleSet::default_rules();
        let before = set.rules.len();
        set.merge_text(
            r#"
[[rule]]
id = "LP001"
severity = "warning"

[[rule]]
id = "SITE001"
name = "no-tcp"
severity = "error"
message = "`{target}` is owned by the network team"
check = { kind = "target-name", names = ["tcp_*"] }

[[waiver]]
rule = "no-tcp"
target = "vmlinux:tcp_v4_rcv"
reason = "NET-42 reviewed"
"#,
            "site.toml",
        )
        .unwrap();
        assert_eq!(set.rules.len(), before + 1);
        let lp001 = set.rules.iter().find(|r| r.id == "LP001").unwrap();
        assert_eq!(lp001.severity, Severity::Warning);
        assert_eq!(lp001.source, "site.toml");
        let site = set.rules.last().unwrap();
        assert!(set.waivers[0].covers(site, Some("vmlinux:tcp_v4_rcv")));
        assert!(!set.waivers[0].covers(site, Some("vmlinux:tcp_v6_rcv")));
        assert!(!set.waivers[0].covers(lp001, Some("vmlinux:tcp_v4_rcv")));
    }

    #[test]
    fn bad_files_are_errors_with_place() {
        let mut set = RuleSet::default_rules();
        let error = set
            .merge_text("[[rule]]\nid = \"NEW\"\nname = \"x\"\n", "u.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("new rule `NEW` needs `severity`"), "{error}");
        let error = set
            .merge_text("[[rule]]\nid = \"LP001\"\nseverity = \"fatal\"\n", "u.toml")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("u.toml:3:"), "{error}");
        let error = set
            .merge_text("[[waiver]]\nrule = \"LP001\"\nreason = \" \"\n", "u.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("has no reason"), "{error}");
        let error = set
            .merge_text("[[waiver]]\nrule = \"NOPE\"\nreason = \"r\"\n", "u.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown rule `NOPE`"), "{error}");
        assert!(set
            .merge_text(
                "[[rule]]\nid = \"LP001\"\ncheck = { kind = \"bogus\" }\n",
                "u.toml"
            )
            .is_err());
    }
}

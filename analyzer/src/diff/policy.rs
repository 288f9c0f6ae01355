//! The user's rule files for `lpcheck diff` (`--rules`), in the format `lpcheck check` reads
//! (see [`crate::rules::model`]): `[[rule]]` entries override fields of the built-in `LD…` rules
//! (`severity`, `name`, `hint`, `reference`, `enabled`) and `[[waiver]]` entries accept a rule's
//! findings, optionally only those about symbols matching `target`, with a required reason.
//!
//! ```toml
//! [[rule]]
//! id = "LD010"
//! severity = "warning"
//!
//! [[waiver]]
//! rule = "static-data-change"     # id or name
//! target = "debug_counter*"       # optional pattern on the finding's symbol
//! reason = "KP-17: counter only read by debugfs, reset on patch"
//! ```
//! Diff rules are code: a file cannot add one, nor change what one checks or says. A waiver that
//! matches no finding is itself reported (`LD016`), so stale waivers do not pile up unseen.

use std::path::Path;

use super::rules::{self, Rule};
use crate::error::Result;
use crate::report::{Finding, Severity, Waiver};
use crate::rules::model::{merge_rule_file, merge_rule_text, MergeRules, RuleEntry};
use crate::rules::WaiverRule;

/// A built-in diff rule as the user's files leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EffectiveRule {
    /// The built-in rule.
    builtin: Rule,
    /// Its name (the built-in one unless overridden).
    name: String,
    /// Its severity.
    severity: Severity,
    /// What to do about a finding.
    hint: String,
    /// Where to read more.
    reference: String,
    /// Whether its findings are reported.
    enabled: bool,
}

impl EffectiveRule {
    fn new(builtin: Rule) -> Self {
        Self {
            builtin,
            name: builtin.name.to_string(),
            severity: builtin.severity,
            hint: builtin.hint.to_string(),
            reference: builtin.reference.to_string(),
            enabled: true,
        }
    }

    fn is_named(&self, rule: &str) -> bool {
        self.builtin.id == rule || self.name == rule
    }

    /// Applies this rule's overrides to one of its findings.
    fn restyle(&self, finding: &mut Finding) {
        finding.name.clone_from(&self.name);
        finding.severity = self.severity;
        finding.hint = Some(self.hint.clone());
        finding.reference = Some(self.reference.clone());
    }
}

/// The diff rules in force and the waivers declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRules {
    /// Every built-in rule, in id order, with the user's overrides.
    rules: Vec<EffectiveRule>,
    /// The user's waivers, in file order.
    waivers: Vec<WaiverRule>,
}

impl Default for DiffRules {
    /// The built-in rules, unchanged, with no waivers.
    fn default() -> Self {
        Self {
            rules: rules::ALL.iter().copied().map(EffectiveRule::new).collect(),
            waivers: Vec::new(),
        }
    }
}

impl DiffRules {
    /// Adds the overrides and waivers of the rule file at `path`.
    pub fn merge_file(&mut self, path: &Path) -> Result<()> {
        merge_rule_file(self, path)
    }

    /// Adds the overrides and waivers of rule-file text (`source` names it in errors).
    pub fn merge_text(&mut self, text: &str, source: &str) -> Result<()> {
        merge_rule_text(self, text, source)
    }

    /// Applies the overrides and waivers to `findings` (findings of disabled rules are dropped;
    /// findings already waived by the author's directives keep that waiver), then reports every
    /// waiver that matched nothing as an `LD016` finding about `file`.
    pub fn apply(&self, findings: Vec<Finding>, file: &str) -> Vec<Finding> {
        let mut used = vec![false; self.waivers.len()];
        let mut kept = Vec::with_capacity(findings.len());
        for mut finding in findings {
            let Some(rule) = self.rules.iter().find(|r| r.builtin.id == finding.rule) else {
                kept.push(finding);
                continue;
            };
            if !rule.enabled {
                continue;
            }
            rule.restyle(&mut finding);
            if let Some(index) = self
                .waivers
                .iter()
                .position(|w| rule.is_named(&w.rule) && w.covers_target(finding.target.as_deref()))
            {
                used[index] = true;
                if finding.waiver.is_none() {
                    let waiver = &self.waivers[index];
                    finding.waiver = Some(Waiver {
                        reason: waiver.reason.clone(),
                        source: waiver.source.clone(),
                    });
                }
            }
            kept.push(finding);
        }
        let unused_rule = self.rule(rules::UNUSED_WAIVER);
        if unused_rule.enabled {
            for (waiver, _) in self.waivers.iter().zip(&used).filter(|(_, &used)| !used) {
                let scope = waiver
                    .target
                    .as_ref()
                    .map(|t| format!(" on `{t}`"))
                    .unwrap_or_default();
                let mut finding = rules::UNUSED_WAIVER.finding(
                    format!(
                        "the waiver for `{}`{scope} in {} matched no finding (stale waiver, or a typo in its rule or target?)",
                        waiver.rule, waiver.source
                    ),
                    file,
                    None,
                    vec![format!("reason given: {}", waiver.reason)],
                );
                unused_rule.restyle(&mut finding);
                kept.push(finding);
            }
        }
        kept
    }

    fn rule(&self, builtin: Rule) -> &EffectiveRule {
        self.rules
            .iter()
            .find(|r| r.builtin.id == builtin.id)
            .expect("every built-in diff rule has an entry")
    }
}

impl MergeRules for DiffRules {
    /// Diff rules record no source per rule: `_source` is unused (the caller names the file in
    /// errors).
    fn merge_rule(&mut self, entry: RuleEntry, _source: &str) -> std::result::Result<(), String> {
        let Some(rule) = self.rules.iter_mut().find(|r| r.builtin.id == entry.id) else {
            return Err(format!(
                "`{}` is not a diff rule (diff rules are built in, LD001 to LD{:03}; a file can only override them)",
                entry.id,
                rules::ALL.len()
            ));
        };
        if entry.message.is_some() || entry.check.is_some() {
            return Err(format!(
                "diff rule `{}`: `message` and `check` cannot be overridden (diff rules are code)",
                entry.id
            ));
        }
        if let Some(name) = entry.name {
            rule.name = name;
        }
        if let Some(severity) = entry.severity {
            rule.severity = severity;
        }
        if let Some(hint) = entry.hint {
            rule.hint = hint;
        }
        if let Some(reference) = entry.reference {
            rule.reference = reference;
        }
        if let Some(enabled) = entry.enabled {
            rule.enabled = enabled;
        }
        Ok(())
    }

    fn refuse_waiver(&self, rule: &str) -> Option<String> {
        let known = self.rules.iter().any(|r| r.is_named(rule));
        (!known).then(|| format!("waiver names `{rule}`, which is not a diff rule"))
    }

    fn waivers_mut(&mut self) -> &mut Vec<WaiverRule> {
        &mut self.waivers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::testobj::ObjBuilder;
    use crate::diff::LoadedObject;
    use crate::diff::{diff_loaded, DiffOptions, DiffVerdict};

    fn finding(rule: Rule, symbol: &str) -> Finding {
        rule.finding(format!("about {symbol}"), "p.o", Some(symbol), Vec::new())
    }

    fn rules_from(text: &str) -> DiffRules {
        let mut set = DiffRules::default();
        set.merge_text(text, "site.toml").unwrap();
        set
    }

    #[test]
    fn overrides_change_severity_and_disable() {
        let set = rules_from(
            "[[rule]]\nid = \"LD003\"\nseverity = \"warning\"\nhint = \"site hint\"\n\n[[rule]]\nid = \"LD010\"\nenabled = false\n",
        );
        let out = set.apply(
            vec![
                finding(rules::DATA_CHANGE, "counter"),
                finding(rules::REMOVED_FUNCTION, "old_fn"),
                finding(rules::INIT_CHANGE, "init_fn"),
            ],
            "p.o",
        );
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].rule, "LD003");
        assert_eq!(out[0].severity, Severity::Warning);
        assert_eq!(out[0].hint.as_deref(), Some("site hint"));
        assert!(!out[0].rejects());
        assert_eq!(out[1].rule, "LD001");
        assert!(out[1].rejects());
    }

    #[test]
    fn waivers_match_rule_id_or_name_and_target_pattern() {
        let set = rules_from(
            "[[waiver]]\nrule = \"static-data-change\"\ntarget = \"debug_*\"\nreason = \"KP-17\"\n\n[[waiver]]\nrule = \"LD001\"\nreason = \"init rerun by callback\"\n",
        );
        let out = set.apply(
            vec![
                finding(rules::DATA_CHANGE, "debug_counter"),
                finding(rules::DATA_CHANGE, "real_state"),
                finding(rules::INIT_CHANGE, "setup"),
            ],
            "p.o",
        );
        assert_eq!(out.len(), 3, "no waiver is unused: {out:?}");
        let waiver = out[0].waiver.as_ref().expect("debug_counter is waived");
        assert_eq!(
            (waiver.reason.as_str(), waiver.source.as_str()),
            ("KP-17", "site.toml")
        );
        assert!(out[1].rejects(), "real_state does not match debug_*");
        assert!(out[2].waiver.is_some());
    }

    #[test]
    fn unused_waivers_are_warnings_and_author_waivers_stay() {
        let set = rules_from(
            "[[waiver]]\nrule = \"LD004\"\ntarget = \"gone\"\nreason = \"old ticket\"\n\n[[waiver]]\nrule = \"LD012\"\nreason = \"reviewed\"\n",
        );
        let mut author = finding(rules::AUTHOR_IGNORED, "f");
        author.waiver = Some(Waiver {
            reason: "the patch author's directive".into(),
            source: "KPATCH_IGNORE_FUNCTION".into(),
        });
        let out = set.apply(vec![author], "p.o");
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(
            out[0].waiver.as_ref().unwrap().source,
            "KPATCH_IGNORE_FUNCTION"
        );
        assert_eq!(out[1].rule, "LD016");
        assert_eq!(out[1].severity, Severity::Warning);
        assert!(out[1].waiver.is_none());
        assert!(
            out[1].message.contains("`LD004` on `gone` in site.toml"),
            "{}",
            out[1].message
        );
        assert_eq!(out[1].evidence, ["reason given: old ticket"]);

        let quiet = rules_from(
            "[[rule]]\nid = \"LD016\"\nenabled = false\n[[waiver]]\nrule = \"LD004\"\nreason = \"r\"\n",
        );
        assert!(quiet.apply(Vec::new(), "p.o").is_empty());
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        for (text, expected) in [
            (
                "[[rule]]\nid = \"LP001\"\nseverity = \"warning\"\n",
                "`LP001` is not a diff rule",
            ),
            (
                "[[rule]]\nid = \"LD001\"\nmessage = \"m\"\n",
                "cannot be overridden",
            ),
            (
                "[[waiver]]\nrule = \"LD001\"\nreason = \" \"\n",
                "has no reason",
            ),
            (
                "[[waiver]]\nrule = \"LP001\"\nreason = \"r\"\n",
                "`LP001`, which is not a diff rule",
            ),
            (
                "[[rule]]\nid = \"LD001\"\nseverity = \"fatal\"\n",
                "site.toml:3:",
            ),
        ] {
            let error = DiffRules::default()
                .merge_text(text, "site.toml")
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(error.starts_with("site.toml"), "{error}");
        }
    }

    /// A data object that grows: a reject by default, an accept once waived.
    #[test]
    fn a_waived_data_change_turns_the_verdict() {
        let object = |size| {
            let mut b = ObjBuilder::new();
            b.file("state.c");
            b.function("f", &[0xc3], &[]);
            b.local_object("counter", size);
            LoadedObject::from_bytes(Path::new("state.o"), b.finish())
        };
        let (orig, patched) = (object(4), object(8));
        let report = diff_loaded(&orig, &patched, &DiffOptions::default()).unwrap();
        assert_eq!(report.verdict, DiffVerdict::Reject, "{:?}", report.findings);
        let options = DiffOptions {
            rules: rules_from(
                "[[waiver]]\nrule = \"LD003\"\ntarget = \"counter\"\nreason = \"resized on purpose\"\n",
            ),
            ..DiffOptions::default()
        };
        let report = diff_loaded(&orig, &patched, &options).unwrap();
        assert_ne!(report.verdict, DiffVerdict::Reject, "{:?}", report.findings);
        let waived = report.findings.iter().find(|f| f.rule == "LD003").unwrap();
        assert_eq!(waived.waiver.as_ref().unwrap().reason, "resized on purpose");
    }
}

//! The pages of `docs/rules/`: one per rule of `lpcheck check` (LP…) and `lpcheck diff` (LD…),
//! rendered from the rules' data, and their index. A test keeps the checked-in pages equal to
//! what the data renders (`LPCHECK_BLESS=1` rewrites them).

use std::fmt::Write as _;

use crate::diff::rules as diff_rules;
use crate::report::RuleDescriptor;
use crate::rules::RuleSet;

/// Every built-in rule: the default check rules, then the diff rules.
pub fn builtin_rules() -> Vec<RuleDescriptor> {
    RuleSet::default_rules()
        .rules
        .iter()
        .map(crate::rules::model::Rule::descriptor)
        .chain(
            diff_rules::ALL
                .iter()
                .map(crate::diff::rules::Rule::descriptor),
        )
        .collect()
}

/// The index page (`docs/rules/README.md`): a table of every rule with its page.
pub fn index(rules: &[RuleDescriptor]) -> String {
    let mut text = String::from(
        "# lpcheck rules\n\n\
         `lpcheck check` applies the LP rules (rules/default.toml; a `--rules` file can change \
         their severity, disable them or waive their findings), `lpcheck diff` the LD rules. \
         Each page below is rendered from the rule's data and is what SARIF output carries as \
         the rule's help.\n\n\
         | Rule | Name | Default severity | Finds |\n|---|---|---|---|\n",
    );
    for rule in rules {
        let _ = writeln!(
            text,
            "| [{id}]({id}.md) | {name} | {severity} | {summary} |",
            id = rule.id,
            name = rule.name,
            severity = rule.severity,
            summary = rule.summary.replace('|', "\\|"),
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_pages_match_the_rules() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = root.join("docs/rules");
        let rules = builtin_rules();
        let mut pages: Vec<(String, String)> = rules
            .iter()
            .map(|rule| (rule.doc_page(), rule.markdown()))
            .collect();
        pages.push(("docs/rules/README.md".into(), index(&rules)));
        if std::env::var_os("LPCHECK_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            for (page, text) in &pages {
                std::fs::write(root.join(page), text).unwrap();
            }
        }
        for (page, text) in &pages {
            let path = root.join(page);
            let found = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                found == *text,
                "{} is out of date with the rules; rerun with LPCHECK_BLESS=1",
                path.display()
            );
        }
        let on_disk = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            on_disk,
            pages.len(),
            "a page in {} has no rule",
            dir.display()
        );
    }

    #[test]
    fn every_builtin_rule_has_a_summary_and_a_help_url() {
        for rule in builtin_rules() {
            assert!(rule.summary.ends_with('.'), "{}: {}", rule.id, rule.summary);
            assert!(
                rule.reference_url().is_some(),
                "{}: reference {:?} has no URL",
                rule.id,
                rule.reference
            );
        }
    }
}

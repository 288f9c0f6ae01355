//! SARIF 2.1.0 output, for code-scanning uploads.
//!
//! Only the subset lpcheck needs: one run, the rules that produced findings (in
//! `tool.driver.rules`), and one result per finding with its level, message, location (the
//! input file, with the symbol as a logical location) and, for waived findings, an accepted
//! suppression.

use serde::Serialize;

use super::{Finding, Renderable, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct RunProperties<'a> {
    command: &'static str,
    verdict: &'a str,
    /// Facts error rules needed and did not have (why the verdict is `inconclusive`).
    #[serde(rename = "missingFacts", skip_serializing_if = "Vec::is_empty")]
    missing_facts: Vec<String>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    name: &'a str,
    short_description: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<&'a str>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text<'a>,
    locations: Vec<SarifLocation<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<ResultProperties<'a>>,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    evidence: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation<'a> {
    physical_location: PhysicalLocation<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation<'a>,
}

#[derive(Serialize)]
struct ArtifactLocation<'a> {
    uri: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    name: &'a str,
    kind: &'static str,
}

#[derive(Serialize)]
struct Suppression<'a> {
    kind: &'static str,
    status: &'static str,
    justification: &'a str,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// Renders `report` as a SARIF 2.1.0 log (pretty-printed JSON).
pub fn render(report: &dyn Renderable) -> String {
    let findings = report.findings();
    let mut rules: Vec<Rule<'_>> = Vec::new();
    let mut results = Vec::with_capacity(findings.len());
    for finding in findings {
        let rule_index = match rules.iter().position(|r| r.id == finding.rule) {
            Some(index) => index,
            None => {
                rules.push(rule_of(finding));
                rules.len() - 1
            }
        };
        results.push(result_of(finding, rule_index, report.primary_input()));
    }
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "lpcheck",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://docs.kernel.org/livepatch/livepatch.html",
                    rules,
                },
            },
            results,
            properties: RunProperties {
                command: report.command(),
                verdict: report.verdict_label(),
                missing_facts: report.missing_facts(),
            },
        }],
    };
    serde_json::to_string_pretty(&log).expect("SARIF model serializes")
}

fn rule_of(finding: &Finding) -> Rule<'_> {
    Rule {
        id: &finding.rule,
        name: &finding.name,
        short_description: Text {
            text: &finding.name,
        },
        help: finding.hint.as_deref().map(|text| Text { text }),
        help_uri: finding
            .reference
            .as_deref()
            .filter(|r| r.starts_with("https://")),
        default_configuration: Configuration {
            level: level(finding.severity),
        },
    }
}

fn result_of<'a>(finding: &'a Finding, rule_index: usize, input: &'a str) -> SarifResult<'a> {
    let uri = finding
        .location
        .as_ref()
        .map_or(input, |location| location.file.as_str());
    let symbol = finding
        .location
        .as_ref()
        .and_then(|location| location.symbol.as_deref());
    SarifResult {
        rule_id: &finding.rule,
        rule_index,
        level: level(finding.severity),
        message: Text {
            text: &finding.message,
        },
        locations: vec![SarifLocation {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri },
            },
            logical_locations: symbol
                .map(|name| LogicalLocation {
                    name,
                    kind: "function",
                })
                .into_iter()
                .collect(),
        }],
        suppressions: finding
            .waiver
            .iter()
            .map(|waiver| Suppression {
                kind: "external",
                status: "accepted",
                justification: &waiver.reason,
            })
            .collect(),
        properties: Some(ResultProperties {
            target: finding.target.as_deref(),
            evidence: &finding.evidence,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Location, Waiver};
    use super::*;

    struct Fixture(Vec<Finding>);

    impl Renderable for Fixture {
        fn command(&self) -> &'static str {
            "check"
        }
        fn verdict_label(&self) -> &'static str {
            "reject"
        }
        fn findings(&self) -> &[Finding] {
            &self.0
        }
        fn primary_input(&self) -> &str {
            "p.ko"
        }
        fn summary_lines(&self) -> Vec<String> {
            Vec::new()
        }
    }

    fn finding(rule: &str, waived: bool) -> Finding {
        Finding {
            rule: rule.into(),
            name: format!("{rule}-name"),
            severity: Severity::Error,
            message: "m".into(),
            target: Some("vmlinux:f".into()),
            evidence: vec!["e".into()],
            hint: None,
            reference: None,
            location: Some(Location {
                symbol: Some("livepatch_f".into()),
                ..Location::file("p.ko")
            }),
            waiver: waived.then(|| Waiver {
                reason: "ok".into(),
                source: "w.toml".into(),
            }),
        }
    }

    #[test]
    fn rules_are_deduplicated_and_results_indexed() {
        let report = Fixture(vec![
            finding("LP001", false),
            finding("LP002", false),
            finding("LP001", true),
        ]);
        let log: serde_json::Value = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
        let results = run["results"].as_array().unwrap();
        assert_eq!(results[2]["ruleIndex"], 0);
        assert_eq!(results[1]["ruleId"], "LP002");
        assert_eq!(results[2]["suppressions"][0]["status"], "accepted");
        assert!(results[0].get("suppressions").is_none());
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "p.ko"
        );
        assert_eq!(
            results[0]["locations"][0]["logicalLocations"][0]["name"],
            "livepatch_f"
        );
        assert_eq!(run["properties"]["verdict"], "reject");
    }
}

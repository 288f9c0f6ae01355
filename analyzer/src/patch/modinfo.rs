//! The `.modinfo` section: NUL-separated `key=value` strings.

use serde::Serialize;

/// A module's `.modinfo` contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModInfo {
    /// Every `key=value` pair, in section order (keys may repeat, e.g. `alias`).
    pub entries: Vec<(String, String)>,
}

impl ModInfo {
    /// Parses the raw section contents; strings without `=` are kept with an empty value.
    pub fn parse(data: &[u8]) -> Self {
        let entries = data
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let s = String::from_utf8_lossy(s);
                match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (s.to_string(), String::new()),
                }
            })
            .collect();
        Self { entries }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The module's name (`name=`).
    pub fn name(&self) -> Option<&str> {
        self.get("name")
    }

    /// The full vermagic string.
    pub fn vermagic(&self) -> Option<&str> {
        self.get("vermagic")
    }

    /// The kernel release part of vermagic (its first word).
    pub fn vermagic_release(&self) -> Option<&str> {
        self.vermagic()?.split_whitespace().next()
    }

    /// Whether the module is marked as a livepatch module (`livepatch=Y`).
    pub fn is_livepatch(&self) -> bool {
        self.get("livepatch") == Some("Y")
    }

    /// The license string.
    pub fn license(&self) -> Option<&str> {
        self.get("license")
    }

    /// The modules this one depends on (`depends=a,b`).
    pub fn depends(&self) -> Vec<&str> {
        self.get("depends")
            .map(|d| d.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_livepatch_flag() {
        let info = ModInfo::parse(
            b"license=GPL\0livepatch=Y\0depends=kvm,\0\0name=lp\0vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions \0",
        );
        assert!(info.is_livepatch());
        assert_eq!(info.name(), Some("lp"));
        assert_eq!(info.vermagic_release(), Some("6.1.0-56-amd64"));
        assert_eq!(info.depends(), vec!["kvm"]);
        assert_eq!(info.license(), Some("GPL"));
        assert!(!ModInfo::parse(b"livepatch=N\0").is_livepatch());
    }
}

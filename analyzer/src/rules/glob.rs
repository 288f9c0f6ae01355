//! Shell-style name patterns (`*` any run, `?` one character) for rule data.

/// Whether `text` matches `pattern`, where `*` matches any run of characters and `?` any one.
pub fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_questions() {
        assert!(matches("schedule", "schedule"));
        assert!(!matches("schedule", "schedule_timeout"));
        assert!(matches("schedule*", "schedule_timeout"));
        assert!(matches("__vdso_*", "__vdso_clock_gettime"));
        assert!(matches("*_thread", "worker_thread"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("do_?elect", "do_select"));
        assert!(matches("*", ""));
        assert!(!matches("?", ""));
    }
}

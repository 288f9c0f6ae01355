//! Ordering of kernel release strings (`6.1.0-57-amd64`, `5.14.0-427.13.1.el9_4.x86_64`) by
//! version, the way package managers compare versions: runs of digits compare as numbers, other
//! runs byte by byte, with `~` sorting before everything (Debian's pre-release marker).

use std::cmp::Ordering;

/// One run of a release string.
#[derive(Debug, PartialEq, Eq)]
enum Run<'a> {
    Number(&'a str),
    Text(&'a str),
}

fn runs(release: &str) -> Vec<Run<'_>> {
    let mut out = Vec::new();
    let mut rest = release;
    while let Some(first) = rest.chars().next() {
        let digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        out.push(if digit {
            Run::Number(run)
        } else {
            Run::Text(run)
        });
        rest = tail;
    }
    out
}

fn compare_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `~` first, then letters, then other punctuation (as dpkg orders non-digits).
fn text_key(c: u8) -> i32 {
    match c {
        b'~' => -1,
        c if c.is_ascii_alphabetic() => i32::from(c),
        c => i32::from(c) + 256,
    }
}

fn compare_text(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for i in 0..a.len().max(b.len()) {
        let key = |s: &[u8]| s.get(i).map_or(0, |&c| text_key(c));
        match key(a).cmp(&key(b)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

/// Compares two kernel releases by version.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (runs(a), runs(b));
    for pair in a.iter().zip(b.iter()) {
        let order = match pair {
            (Run::Number(x), Run::Number(y)) => compare_numbers(x, y),
            (Run::Text(x), Run::Text(y)) => compare_text(x, y),
            // A number where the other has text: the number is the later version (6.1.10
            // after 6.1-rc).
            (Run::Number(_), Run::Text(y)) if y.starts_with('~') => Ordering::Greater,
            (Run::Number(_), Run::Text(_)) => Ordering::Greater,
            (Run::Text(x), Run::Number(_)) if x.starts_with('~') => Ordering::Less,
            (Run::Text(_), Run::Number(_)) => Ordering::Less,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    let tail = |longer: &[Run<'_>], shorter: usize| match longer.get(shorter) {
        Some(Run::Text(t)) if t.starts_with('~') => Ordering::Less,
        Some(_) => Ordering::Greater,
        None => Ordering::Equal,
    };
    match a.len().cmp(&b.len()) {
        Ordering::Equal => Ordering::Equal,
        Ordering::Greater => tail(&a, b.len()),
        Ordering::Less => tail(&b, a.len()).reverse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_as_numbers_not_text() {
        assert_eq!(
            compare("6.1.0-57-amd64", "6.1.0-9-amd64"),
            Ordering::Greater
        );
        assert_eq!(
            compare("6.12.118-amd64", "6.1.0-57-amd64"),
            Ordering::Greater
        );
        assert_eq!(compare("6.1.0-57-amd64", "6.1.0-57-amd64"), Ordering::Equal);
        assert_eq!(
            compare("6.1.0-057-amd64", "6.1.0-57-amd64"),
            Ordering::Equal
        );
    }

    #[test]
    fn rhel_releases_order_by_build() {
        assert_eq!(
            compare(
                "5.14.0-427.13.1.el9_4.x86_64",
                "5.14.0-70.13.1.el9_0.x86_64"
            ),
            Ordering::Greater
        );
        assert_eq!(
            compare("6.8.5-301.fc40.x86_64", "6.8.5-301.fc40.x86_64+debug"),
            Ordering::Less
        );
    }

    #[test]
    fn tilde_sorts_before_the_release() {
        assert_eq!(compare("7.2~rc3", "7.2"), Ordering::Less);
        assert_eq!(compare("7.2", "7.2~rc3"), Ordering::Greater);
        assert_eq!(
            compare("7.2.13+deb14-amd64", "7.2.13-amd64"),
            Ordering::Less
        );
    }
}

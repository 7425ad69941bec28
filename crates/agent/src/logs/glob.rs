//! `file_path` globs: `*` and `?` within one path component, `[abc]` /
//! `[a-z]` / `[!a]` classes, and `**` for any number of directories (the
//! stock agent's globpath). Matching walks only the directories the pattern
//! can reach.

use std::path::{Path, PathBuf};

/// Whether `name` (one component) matches `pattern` (one component).
pub fn component_matches(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative wildcard matching with one backtrack point: linear enough
    // for file names, and no recursion on hostile patterns.
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => class(pattern, p, name[n]),
            Some(&c) => (c == name[n]).then_some(p + 1),
            None => None,
        };
        match step {
            Some(next) => {
                p = next;
                n += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[at] == '['`; returns
/// the index after the class when it matches.
fn class(pattern: &[u8], at: usize, c: u8) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *pattern.get(i)?;
        if lo == b']' && !first {
            break;
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&h| h != b']') {
            let hi = pattern[i + 2];
            matched |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    (matched != negate).then_some(i + 1)
}

fn has_magic(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// Every regular file matching `pattern` (absolute), sorted.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    walk(Path::new("/"), &components, &mut out, 0);
    out.sort();
    out.dedup();
    out
}

/// Depth guard for `**` (symlink loops).
const MAX_DEPTH: usize = 32;

fn walk(dir: &Path, rest: &[&str], out: &mut Vec<PathBuf>, depth: usize) {
    let Some((&first, tail)) = rest.split_first() else {
        if dir.is_file() {
            out.push(dir.to_owned());
        }
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    if first == "**" {
        // Zero directories, then one more level with `**` still pending.
        walk(dir, tail, out, depth + 1);
        for sub in read_dir_names(dir) {
            let p = dir.join(&sub);
            if p.is_dir() {
                walk(&p, rest, out, depth + 1);
            }
        }
        return;
    }
    if !has_magic(first) {
        walk(&dir.join(first), tail, out, depth);
        return;
    }
    for name in read_dir_names(dir) {
        if component_matches(first.as_bytes(), name.as_bytes()) {
            walk(&dir.join(&name), tail, out, depth);
        }
    }
}

fn read_dir_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_wildcards() {
        let m = |p: &str, n: &str| component_matches(p.as_bytes(), n.as_bytes());
        assert!(m("*.log", "app.log"));
        assert!(!m("*.log", "app.log.1"));
        assert!(m("app.log*", "app.log.1"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[ab]x", "bx"));
        assert!(!m("[!ab]x", "bx"));
        assert!(m("log[0-9]", "log7"));
        assert!(!m("log[0-9]", "logx"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
        assert!(!m("[", "["), "an unclosed class matches nothing");
    }

    #[test]
    fn expands_on_a_tree() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        for f in ["x.log", "y.txt", "a/z.log", "a/b/w.log"] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let r = root.to_str().unwrap();
        let names = |pat: String| -> Vec<String> {
            expand(&pat)
                .into_iter()
                .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(format!("{r}/*.log")), vec!["x.log"]);
        assert_eq!(
            names(format!("{r}/**/*.log")),
            vec!["a/b/w.log", "a/z.log", "x.log"]
        );
        assert_eq!(names(format!("{r}/a/*/w.log")), vec!["a/b/w.log"]);
        assert_eq!(names(format!("{r}/x.log")), vec!["x.log"]);
        assert!(names(format!("{r}/missing.log")).is_empty());
        // Directories are not files.
        assert!(names(format!("{r}/a")).is_empty());
    }
}

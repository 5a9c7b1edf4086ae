//! Syntax highlighting for common languages, by file extension: comments, strings,
//! numbers and keywords get a class (`c`, `s`, `n`, `k`); everything stays escaped text.
//! A small tokenizer rather than full grammars: it keeps pages fast and the binary small,
//! and what it gets wrong is only a colour.

use maud::{Markup, html};

/// How one language looks to the tokenizer.
struct Lang {
    line_comments: &'static [&'static str],
    block_comment: Option<(&'static str, &'static str)>,
    quotes: &'static [char],
    keywords: &'static [&'static str],
}

const C_LIKE: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "int",
    "long",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "class",
    "namespace",
    "template",
    "public",
    "private",
    "protected",
    "virtual",
    "new",
    "delete",
    "true",
    "false",
    "nullptr",
    "bool",
    "include",
    "define",
];
const RUST: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while",
];
const GO: &[&str] = &[
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "fallthrough",
    "for",
    "func",
    "go",
    "goto",
    "if",
    "import",
    "interface",
    "map",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "type",
    "var",
    "nil",
    "true",
    "false",
];
const JS: &[&str] = &[
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "type",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "yield",
];
const PYTHON: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "False", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "None", "nonlocal", "not", "or", "pass", "raise", "return", "True", "try", "while",
    "with", "yield",
];
const SHELL: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "while", "do", "done", "case", "esac", "in",
    "function", "return", "local", "export", "set", "echo",
];

fn lang(path: &str) -> Option<Lang> {
    let ext = path.rsplit('.').next().unwrap_or("");
    let c_like = |keywords| Lang {
        line_comments: &["//"],
        block_comment: Some(("/*", "*/")),
        quotes: &['"', '\''],
        keywords,
    };
    Some(match ext {
        "rs" => c_like(RUST),
        "c" | "h" | "cc" | "cpp" | "hpp" | "cxx" | "java" | "kt" | "cs" | "swift" => c_like(C_LIKE),
        "go" => c_like(GO),
        "js" | "mjs" | "cjs" | "ts" | "tsx" | "jsx" => Lang {
            quotes: &['"', '\'', '`'],
            ..c_like(JS)
        },
        "py" => Lang {
            line_comments: &["#"],
            block_comment: None,
            quotes: &['"', '\''],
            keywords: PYTHON,
        },
        "sh" | "bash" | "zsh" => Lang {
            line_comments: &["#"],
            block_comment: None,
            quotes: &['"', '\''],
            keywords: SHELL,
        },
        "toml" | "yaml" | "yml" => Lang {
            line_comments: &["#"],
            block_comment: None,
            quotes: &['"', '\''],
            keywords: &["true", "false", "null"],
        },
        "json" => Lang {
            line_comments: &[],
            block_comment: None,
            quotes: &['"'],
            keywords: &["true", "false", "null"],
        },
        _ => return None,
    })
}

/// A run of text and its class (`""`: plain).
type Span<'t> = (&'static str, &'t str);

fn tokens<'t>(l: &Lang, text: &'t str) -> Vec<Span<'t>> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let (mut i, mut plain) = (0, 0);
    let push = |out: &mut Vec<Span<'t>>, class, from: usize, to: usize| {
        if to > from {
            out.push((class, &text[from..to]));
        }
    };
    while i < b.len() {
        let rest = &text[i..];
        let start = i;
        let class;
        if l.line_comments.iter().any(|c| rest.starts_with(*c)) {
            i += rest.find('\n').unwrap_or(rest.len());
            class = "c";
        } else if let Some((open, close)) = l.block_comment
            && rest.starts_with(open)
        {
            i += rest[open.len()..]
                .find(close)
                .map_or(rest.len(), |e| open.len() + e + close.len());
            class = "c";
        } else if let Some(q) = l.quotes.iter().find(|q| rest.starts_with(**q)) {
            // To the closing quote (escapes skipped), at most to the end of the line for
            // a quote other than a backtick.
            let mut j = q.len_utf8();
            let bytes = rest.as_bytes();
            while j < bytes.len() {
                match bytes[j] {
                    b'\\' => j += 2,
                    b'\n' if *q != '`' => break,
                    c if c == *q as u8 => {
                        j += 1;
                        break;
                    }
                    _ => j += 1,
                }
            }
            i += j.min(rest.len());
            // An escape before a multi-byte character: to its end.
            while !text.is_char_boundary(i) {
                i += 1;
            }
            class = "s";
        } else if b[i].is_ascii_digit() && (i == 0 || !is_word(b[i - 1])) {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            class = "n";
        } else if is_word(b[i]) && (i == 0 || !is_word(b[i - 1])) {
            while i < b.len() && is_word(b[i]) {
                i += 1;
            }
            if l.keywords.contains(&&text[start..i]) {
                class = "k";
            } else {
                continue;
            }
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        push(&mut out, "", plain, start);
        push(&mut out, class, start, i);
        plain = i;
    }
    push(&mut out, "", plain, b.len());
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Each line of `text`, highlighted as the language of `path` (plain if unknown).
pub fn lines(path: &str, text: &str) -> Vec<Markup> {
    let spans = match lang(path) {
        Some(l) => tokens(&l, text),
        None => vec![("", text)],
    };
    let mut out = Vec::new();
    let mut line: Vec<Span<'_>> = Vec::new();
    for (class, s) in spans {
        let mut parts = s.split('\n').peekable();
        while let Some(part) = parts.next() {
            if !part.is_empty() {
                line.push((class, part));
            }
            if parts.peek().is_some() {
                out.push(render(&line));
                line.clear();
            }
        }
    }
    if !line.is_empty() || !text.ends_with('\n') {
        out.push(render(&line));
    }
    out
}

fn render(line: &[Span<'_>]) -> Markup {
    html! {
        @for (class, s) in line {
            @if class.is_empty() { (s) } @else { span class=(class) { (s) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_is_split_into_classes_and_lines() {
        let l = lines("a.rs", "fn main() { // hi\n    let s = \"<x>\"; 42\n}\n");
        assert_eq!(l.len(), 3);
        let first = l[0].clone().into_string();
        assert!(first.contains(r#"<span class="k">fn</span>"#), "{first}");
        assert!(first.contains(r#"<span class="c">// hi</span>"#), "{first}");
        let second = l[1].clone().into_string();
        assert!(second.contains("&lt;x&gt;"), "escaped: {second}");
        assert!(second.contains(r#"<span class="n">42</span>"#), "{second}");
    }
}

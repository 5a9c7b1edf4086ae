//! Merges three files with guts-git's content merge, as `git merge-file -p` does with
//! git's own: `cargo run -p guts-git --example merge_file -- OURS BASE THEIRS`. Prints
//! the result; exits 1 when it conflicts (a tool for comparing the two on real files).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ours, base, theirs] = &args[..] else {
        eprintln!("usage: merge_file OURS BASE THEIRS");
        std::process::exit(2);
    };
    let read = |p: &str| std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let Some(m) = guts_git::merge::content::merge(
        &read(base),
        &read(ours),
        &read(theirs),
        (ours.as_str(), theirs.as_str()),
    ) else {
        eprintln!("binary");
        std::process::exit(2);
    };
    use std::io::Write;
    let _ = std::io::stdout().write_all(&m.text);
    std::process::exit(i32::from(m.conflicts > 0));
}

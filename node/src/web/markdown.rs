//! Markdown (a README) to HTML: CommonMark with tables, strikethrough and task lists
//! (pulldown-cmark), then sanitized (ammonia): no scripts, no event handlers, no
//! `javascript:` links, whatever the file holds. Relative links stay relative.

use pulldown_cmark::{Options, Parser, html};

/// Bytes of Markdown rendered at most; the rest is cut.
pub const MAX_MARKDOWN: usize = 512 * 1024;

/// Safe HTML for `text`.
pub fn render(text: &str) -> String {
    let text = match text.char_indices().nth(MAX_MARKDOWN) {
        Some((i, _)) => &text[..i],
        None => text,
    };
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(text, opts));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&out)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_do_not_survive() {
        let html = render(
            "# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n\
             [x](javascript:alert(1)) **bold**",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        for bad in ["<script", "onerror", "javascript:"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }
}

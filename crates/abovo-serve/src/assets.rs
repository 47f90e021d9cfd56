//! The page, its script and its style sheet, embedded in the binary: the
//! explorer loads nothing from anywhere else and works offline.
//!
//! The script (`assets/app.js`) draws every view from the API's JSON; it
//! builds elements with `textContent` and `setAttribute` only, so no text
//! from the data is ever parsed as markup.

use crate::escape;

const SHELL: &str = include_str!("../assets/index.html");
const SCRIPT: &[u8] = include_bytes!("../assets/app.js");
const STYLE: &[u8] = include_bytes!("../assets/app.css");

/// The HTML shell of every page, with what is served (`description`,
/// and the older revision of the diff view, `against`) as JSON in a
/// `<script type="application/json">`, escaped for it.
pub fn shell(description: &str, against: Option<&str>) -> String {
    let boot = format!(
        "{{\"graph\": {}, \"against\": {}, \"version\": {}}}",
        escape::json_string(description),
        against.map_or_else(|| "null".to_owned(), escape::json_string),
        escape::json_string(env!("CARGO_PKG_VERSION"))
    );
    SHELL.replace("{{BOOT}}", &escape::json_in_html(&boot))
}

/// An asset's bytes and content type, by name.
pub fn asset(name: &str) -> Option<(&'static [u8], &'static str)> {
    match name {
        "app.js" => Some((SCRIPT, "text/javascript; charset=utf-8")),
        "app.css" => Some((STYLE, "text/css; charset=utf-8")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_escapes_what_it_carries() {
        let page = super::shell(
            "</script><script>alert(1)</script>",
            Some("</script><!--<script>alert(2)</script>"),
        );
        assert!(!page.contains("<!--"));
        assert!(!page.contains("<script>alert"));
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "the boot data and app.js only"
        );
    }
}

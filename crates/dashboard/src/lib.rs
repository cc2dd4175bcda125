//! The web dashboard: plain static files (HTML, CSS, JavaScript; no build step, no framework, nothing loaded from
//! another host) under `assets/`, embedded into the binary at compile time. The server serves [`INDEX`] at `/` and
//! every [`ASSETS`] entry at `/assets/{path}`; the page talks to the REST API on the same origin.
//!
//! Each asset carries a strong ETag computed at compile time from its bytes, so the server can answer
//! `If-None-Match` with 304 and the browser revalidates cheaply after an upgrade.

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// Path below `/assets/` (the index: `index.html`).
    pub path: &'static str,
    /// `Content-Type` header value.
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// Strong ETag, quoted: a hash of the bytes.
    pub etag: &'static str,
}

/// FNV-1a, 64 bits: enough to tell two versions of a file apart.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `"` + 16 hex digits + `"`.
const fn etag_of(bytes: &[u8]) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = fnv1a(bytes);
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! asset {
    ($path:literal, $content_type:literal) => {{
        const BYTES: &[u8] = include_bytes!(concat!("../assets/", $path));
        const ETAG: [u8; 18] = etag_of(BYTES);
        Asset {
            path: $path,
            content_type: $content_type,
            bytes: BYTES,
            etag: match std::str::from_utf8(&ETAG) {
                Ok(s) => s,
                Err(_) => panic!("an ETag is ASCII"),
            },
        }
    }};
}

/// The page, served at `/`.
pub const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Everything the page loads, served at `/assets/{path}`.
pub const ASSETS: &[Asset] = &[
    // ES modules (`app.js` the entry, importing the others): a JavaScript MIME type is required for them.
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("auth.js", "text/javascript; charset=utf-8"),
    asset!("live.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("describe.js", "text/javascript; charset=utf-8"),
    asset!("overview.js", "text/javascript; charset=utf-8"),
    asset!("compact.js", "text/javascript; charset=utf-8"),
    asset!("zone.js", "text/javascript; charset=utf-8"),
    asset!("plan.js", "text/javascript; charset=utf-8"),
    asset!("forms.js", "text/javascript; charset=utf-8"),
    asset!("chart.js", "text/javascript; charset=utf-8"),
    asset!("alerts.js", "text/javascript; charset=utf-8"),
    asset!("groups.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The asset at `/assets/{path}`, if there is one.
#[must_use]
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `./x.js` modules a JavaScript module imports: static `import ... from "./x.js";`, `import "./x.js";` and
    /// `export {...} from "./x.js";` / `export * from "./x.js";` statements, on one or more lines. Panics on any other
    /// specifier, and on a dynamic `import(`, which this check could not follow.
    fn imports(js: &str) -> Vec<String> {
        assert!(!js.contains("import("), "a dynamic import() is not followed by the asset checks");
        let mut found = Vec::new();
        let mut statement: Option<String> = None;
        for line in js.lines() {
            let trimmed = line.trim_start();
            if statement.is_none() && ["import ", "export {", "export *"].iter().any(|p| trimmed.starts_with(p)) {
                statement = Some(String::new());
            }
            let Some(s) = statement.as_mut() else { continue };
            s.push_str(line);
            s.push('\n');
            if !line.trim_end().ends_with(';') {
                continue;
            }
            let s = statement.take().unwrap();
            if s.trim_start().starts_with("export") && !s.contains(" from ") {
                continue; // `export { a, b };`: no module named
            }
            let spec = s.rsplit(['"', '\'']).nth(1).unwrap_or_else(|| panic!("no module specifier in {s:?}"));
            let path = spec.strip_prefix("./").unwrap_or_else(|| panic!("{spec} is not a sibling module (./x.js)"));
            assert!(path.ends_with(".js") && !path.contains('/'), "{spec} is not a sibling module (./x.js)");
            found.push(path.to_string());
        }
        assert!(statement.is_none(), "an import statement does not end with ';'");
        found
    }

    #[test]
    fn every_asset_the_page_names_is_embedded() {
        let html = std::str::from_utf8(INDEX.bytes).unwrap();
        let mut named = 0;
        let mut modules = Vec::new();
        for attr in ["src=\"", "href=\""] {
            for part in html.split(attr).skip(1) {
                let target = part.split('"').next().unwrap();
                if target.starts_with('#') || target == "docs/" {
                    continue; // in-page routes, and Swagger UI on the same server
                }
                let path = target.strip_prefix("assets/").unwrap_or_else(|| panic!("{target} is not under assets/"));
                let a = asset(path).unwrap_or_else(|| panic!("{path} is not embedded"));
                if path.ends_with(".js") {
                    modules.push(a);
                }
                named += 1;
            }
        }
        let from_page = modules.len();
        // Follow the modules' imports: each must be embedded too, and every embedded script must be reached.
        let mut reached = std::collections::BTreeSet::new();
        while let Some(module) = modules.pop() {
            if !reached.insert(module.path) {
                continue;
            }
            for path in imports(std::str::from_utf8(module.bytes).unwrap()) {
                let imported =
                    asset(&path).unwrap_or_else(|| panic!("{path}, imported by {}, is not embedded", module.path));
                assert!(imported.content_type.starts_with("text/javascript"), "{path} is served as a script");
                modules.push(imported);
            }
        }
        let scripts: std::collections::BTreeSet<_> =
            ASSETS.iter().filter(|a| a.path.ends_with(".js")).map(|a| a.path).collect();
        assert_eq!(reached, scripts, "the scripts the page loads are the scripts embedded");
        named += reached.len().saturating_sub(from_page); // the modules reached through imports
        assert!(named >= 4, "the page loads its scripts, stylesheet and icon");
    }

    #[test]
    fn imports_are_followed() {
        let js = "import { a } from \"./a.js\";\nimport {\n  b,\n  c,\n} from './b.js';\nimport \"./c.js\";\n\
                  export { d } from \"./d.js\";\nexport * from \"./e.js\";\nexport { f, g };\n\
                  export const h = \"x from y\";\nconst i = \"import \";\n";
        assert_eq!(imports(js), ["a.js", "b.js", "c.js", "d.js", "e.js"]);
        assert!(std::panic::catch_unwind(|| imports("import { a } from \"https://cdn.example/a.js\";\n")).is_err());
        assert!(std::panic::catch_unwind(|| imports("const m = await import(\"./a.js\");\n")).is_err());
    }

    #[test]
    fn nothing_comes_from_another_host() {
        for a in ASSETS.iter().chain([&INDEX]) {
            // The SVG namespace is an identifier, not a request.
            let text = String::from_utf8_lossy(a.bytes).replace("http://www.w3.org/2000/svg", "");
            for needle in ["http://", "https://", "//cdn", "url(//", "@import", "fonts.g"] {
                assert!(!text.contains(needle), "{} mentions {needle}", a.path);
            }
        }
    }

    /// The server's Content-Security-Policy for the dashboard is `default-src 'self'` without `'unsafe-inline'` or
    /// `'unsafe-eval'`: no inline script, inline style, style attribute, event-handler attribute or eval.
    #[test]
    fn nothing_inline_that_the_content_security_policy_forbids() {
        let html = std::str::from_utf8(INDEX.bytes).unwrap();
        for tag in html.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or_default();
            if tag.starts_with("script") {
                assert!(tag.contains(" src="), "inline script in index.html: <{tag}>");
            }
            assert!(!tag.starts_with("style"), "inline <style> in index.html");
            assert!(!tag.contains(" style="), "style attribute in index.html: <{tag}>");
            let attrs = tag.split_whitespace().skip(1);
            for attr in attrs {
                assert!(!attr.starts_with("on"), "event-handler attribute in index.html: <{tag}>");
            }
        }
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let js = std::str::from_utf8(a.bytes).unwrap();
            for needle in [
                "style: \"",
                "\"style\"",
                "innerHTML",
                "insertAdjacentHTML",
                "cssText",
                "eval(",
                "new Function",
                "javascript:",
            ] {
                assert!(
                    !js.contains(needle),
                    "{} uses {needle}, which the CSP forbids or which invites inline code",
                    a.path
                );
            }
        }
    }

    #[test]
    fn etags_differ_by_content_and_are_stable() {
        assert_eq!(INDEX.etag.len(), 18);
        assert!(INDEX.etag.starts_with('"') && INDEX.etag.ends_with('"'));
        let tags: std::collections::BTreeSet<_> = ASSETS.iter().map(|a| a.etag).collect();
        assert_eq!(tags.len(), ASSETS.len());
        assert_eq!(etag_of(b"abc"), etag_of(b"abc"));
        assert_ne!(etag_of(b"abc"), etag_of(b"abd"));
    }

    #[test]
    fn unknown_paths_are_none() {
        assert!(asset("app.js").is_some());
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("").is_none());
    }
}

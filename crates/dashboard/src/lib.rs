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
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("chart.js", "text/javascript; charset=utf-8"),
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

    #[test]
    fn every_asset_the_page_names_is_embedded() {
        let html = std::str::from_utf8(INDEX.bytes).unwrap();
        let mut named = 0;
        for attr in ["src=\"", "href=\""] {
            for part in html.split(attr).skip(1) {
                let target = part.split('"').next().unwrap();
                if target.starts_with('#') || target == "docs/" {
                    continue; // in-page routes, and Swagger UI on the same server
                }
                let path = target.strip_prefix("assets/").unwrap_or_else(|| panic!("{target} is not under assets/"));
                assert!(asset(path).is_some(), "{path} is not embedded");
                named += 1;
            }
        }
        assert!(named >= 4, "the page loads its scripts, stylesheet and icon");
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

//! Swagger UI at `/docs/` loads entirely from this server.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

/// The values of `src="..."` and `href="..."` attributes.
fn references(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            refs.push(part.split('"').next().unwrap().to_string());
        }
    }
    refs
}

/// A stylesheet loads only what its `url(...)` and `@import` name: each must be inline (`data:`) or relative.
fn assert_css_stays_here(css: &str, what: &str) {
    assert!(!css.contains("@import"), "{what} imports another stylesheet");
    for part in css.split("url(").skip(1) {
        let target = part.trim_start_matches(['"', '\'', ' ']);
        let local = target.starts_with("data:") || !(target.contains("://") || target.starts_with("//"));
        assert!(local, "{what} loads {}", &target[..target.len().min(80)]);
    }
}

fn assert_no_other_host(text: &str, what: &str) {
    for scheme in ["http://", "https://", "url(//", "src=\"//", "href=\"//"] {
        assert!(!text.contains(scheme), "{what} references another host ({scheme})");
    }
}

#[tokio::test]
async fn docs_load_with_every_asset_from_this_server() {
    let app = spawn_app().await;
    for path in ["/docs", "/docs/"] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.url().path(), "/docs/", "{path} ends at /docs/");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let html = resp.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{path}");
        assert_no_other_host(&html, path);

        let refs = references(&html);
        assert!(refs.len() >= 5, "scripts, styles and icons: {refs:?}");
        for r in refs {
            assert!(!r.contains("://") && !r.starts_with("//"), "{r} is not on this server");
            let url = app.url(&format!("/docs/{}", r.trim_start_matches("./")));
            let asset = app.client.get(&url).send().await.unwrap();
            assert_eq!(asset.status(), StatusCode::OK, "{url}");
            let bytes = asset.bytes().await.unwrap();
            assert!(!bytes.is_empty(), "{url}");
            let text = String::from_utf8_lossy(&bytes);
            if r.ends_with(".css") {
                assert_css_stays_here(&text, &r);
            } else if r.ends_with("initializer.js") {
                assert_no_other_host(&text, &r);
            }
        }
    }

    let init = app.get("/docs/swagger-initializer.js").await.text().await.unwrap();
    assert!(init.contains("\"url\": \"/api-docs/openapi.json\""), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "validator badge off: {init}");
    let spec = app.get("/api-docs/openapi.json").await;
    assert_eq!(spec.status(), StatusCode::OK);
}

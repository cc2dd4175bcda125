//! The dashboard's page and files, served from the binary next to the API.

use reqwest::StatusCode;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn the_dashboard_is_served_at_the_root_with_its_assets() {
    let app = spawn_app().await;
    let resp = app.get("/").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let html = resp.text().await.unwrap();
    assert!(html.contains("assets/app.js"));
    // Revalidation: the same version is a 304 without a body.
    let again = app.client.get(app.url("/")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    for asset in dashboard::ASSETS {
        let resp = app.get(&format!("/assets/{}", asset.path)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", asset.path);
        assert_eq!(resp.headers()["content-type"], asset.content_type);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), asset.bytes);
    }
    // Unknown files, and unknown API paths, stay JSON 404s.
    assert_error(app.get("/assets/nope.js").await, StatusCode::NOT_FOUND, "nope.js").await;
    assert_error(app.get("/no/such/path").await, StatusCode::NOT_FOUND, "no route").await;
    // The API is where it was.
    assert_eq!(app.get("/zones").await.status(), StatusCode::OK);
}

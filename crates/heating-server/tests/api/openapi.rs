//! The OpenAPI document describes every route the router serves, with schemas and error responses.

use std::collections::BTreeSet;

use heating_core::preferences::{ControlStrategy, Preferences};
use heating_core::schedule::ScheduleEntry;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{json_of, spawn_app};

/// Every endpoint the issue asks for (method, path as documented).
const ENDPOINTS: [(&str, &str); 42] = [
    ("post", "/zones"),
    ("get", "/zones"),
    ("get", "/zones/{id}"),
    ("put", "/zones/{id}"),
    ("delete", "/zones/{id}"),
    ("get", "/zones/{id}/details"),
    ("post", "/sensordata"),
    ("post", "/maintenance/rollups/rebuild"),
    ("get", "/sensordata"),
    ("get", "/sensordata/zone/{id}"),
    ("post", "/commands"),
    ("get", "/commands/zone/{id}"),
    ("get", "/health"),
    ("post", "/zones/{id}/target"),
    ("delete", "/zones/{id}/hold"),
    ("get", "/status"),
    ("get", "/weather"),
    ("get", "/weather/forecast/{location}"),
    ("get", "/zones/{id}/history"),
    ("get", "/zones/{id}/model"),
    ("get", "/zones/{id}/plan"),
    ("get", "/auth/whoami"),
    ("post", "/tokens"),
    ("get", "/tokens"),
    ("delete", "/tokens/{id}"),
    ("get", "/audit"),
    ("get", "/alerts"),
    ("post", "/alerts/{id}/acknowledge"),
    ("get", "/metrics"),
    ("get", "/device-profiles"),
    ("post", "/device-profiles"),
    ("get", "/device-profiles/{name}"),
    ("post", "/device-profiles/probe"),
    ("get", "/zones/{id}/history.csv"),
    ("get", "/history.csv"),
    ("post", "/groups"),
    ("get", "/groups"),
    ("get", "/groups/{id}"),
    ("put", "/groups/{id}"),
    ("delete", "/groups/{id}"),
    ("get", "/groups/{id}/summary"),
    ("get", "/groups/{id}/history"),
];

/// The CSV exports' content type.
const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// The one operation that answers in another format than JSON: Prometheus' text format 0.0.4.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((method.to_string(), path.clone()));
            }
        }
    }
    ops
}

/// Follows a `$ref` to `#/components/schemas/...` and checks it exists.
fn check_schema(spec: &Value, schema: &Value, context: &str) {
    assert!(schema.is_object() && !schema.as_object().unwrap().is_empty(), "{context}: empty schema");
    let text = schema.to_string();
    for part in text.split("\"$ref\":\"").skip(1) {
        let reference = part.split('"').next().unwrap();
        let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{context}: {reference}"));
        assert!(spec["components"]["schemas"].get(name).is_some(), "{context}: missing component {name}");
    }
}

#[tokio::test]
async fn the_document_describes_every_route_with_schemas_and_errors() {
    let app = spawn_app().await;
    let (status, spec) = json_of(app.get("/api-docs/openapi.json").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec, serde_json::to_value(heating_server::http::openapi()).unwrap(), "served = built");
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(spec["components"]["securitySchemes"]["bearer"]["scheme"], json!("bearer"));
    assert_eq!(spec["security"], json!([{"bearer": []}]), "every operation needs a token unless it says otherwise");

    let expected: BTreeSet<(String, String)> = ENDPOINTS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(operations(&spec), expected, "documented operations = the issue's endpoints");

    for (method, path) in &expected {
        let op = &spec["paths"][path][method];
        let ctx = format!("{} {path}", method.to_uppercase());
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{ctx}: no responses"));

        let ok: Vec<_> = responses.keys().filter(|c| c.starts_with('2')).collect();
        assert_eq!(ok.len(), 1, "{ctx}: one success response");
        if path == "/metrics" {
            let content = responses[ok[0]]["content"].as_object().unwrap();
            assert_eq!(content.keys().collect::<Vec<_>>(), [METRICS_CONTENT_TYPE], "{ctx}: the text format");
            assert_eq!(content[METRICS_CONTENT_TYPE]["schema"]["type"], "string", "{ctx}");
        } else if path.ends_with(".csv") {
            let content = responses[ok[0]]["content"].as_object().unwrap();
            assert_eq!(content.keys().collect::<Vec<_>>(), [CSV_CONTENT_TYPE], "{ctx}: CSV");
            assert_eq!(content[CSV_CONTENT_TYPE]["schema"]["type"], "string", "{ctx}");
        } else {
            check_schema(&spec, &responses[ok[0]]["content"]["application/json"]["schema"], &ctx);
        }

        let errors: Vec<_> = responses.keys().filter(|c| c.starts_with('4') || c.starts_with('5')).collect();
        assert!(!errors.is_empty(), "{ctx}: no error responses");
        for code in errors {
            check_schema(&spec, &responses[code]["content"]["application/json"]["schema"], &format!("{ctx} {code}"));
        }
        // Nothing to refuse with 422 in these: no parameters, no body.
        if !["/health", "/status", "/auth/whoami", "/metrics", "/device-profiles", "/groups"].contains(&path.as_str())
            || method == "post"
        {
            let err_ref = responses.iter().find(|(c, _)| c.starts_with('4')).unwrap().1["content"]["application/json"]
                ["schema"]["$ref"]
                .clone();
            assert_eq!(err_ref, json!("#/components/schemas/ErrorBody"), "{ctx}: errors are ErrorBody");
            assert!(responses.contains_key("422"), "{ctx}: documents 422");
        }

        if method == "post" || method == "put" {
            check_schema(&spec, &op["requestBody"]["content"]["application/json"]["schema"], &format!("{ctx} body"));
            assert!(responses.contains_key("400") && responses.contains_key("415"), "{ctx}: body errors documented");
        }
        let params: Vec<(String, String)> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter().map(|p| (p["name"].as_str().unwrap().into(), p["in"].as_str().unwrap().into())).collect()
            })
            .unwrap_or_default();
        if path.contains("{id}") {
            assert!(params.contains(&("id".into(), "path".into())), "{ctx}: id parameter");
            assert!(responses.contains_key("404"), "{ctx}: documents 404");
        }
        if path == "/health" {
            assert_eq!(op["security"], json!([]), "{ctx}: public");
        } else {
            assert!(responses.contains_key("401") && responses.contains_key("429"), "{ctx}: sign-in refusals");
            if method != "get" || path == "/tokens" || path == "/audit" {
                assert!(responses.contains_key("403"), "{ctx}: documents 403");
            }
        }
        if method == "get" && (path.ends_with("/zones") || path.ends_with("/sensordata") || path.contains("/zone/")) {
            for name in ["skip", "limit"] {
                assert!(params.contains(&(name.into(), "query".into())), "{ctx}: {name} parameter");
            }
        }
    }
    for schema in [
        "ZoneOut",
        "ZoneCreate",
        "ZoneUpdate",
        "ZoneDetails",
        "Preferences",
        "ReadingCreate",
        "ReadingOut",
        "CommandCreate",
        "CommandOut",
        "ErrorBody",
        "HealthOut",
        "WhoAmI",
        "TokenCreate",
        "TokenCreated",
        "TokenOut",
        "AuditOut",
        "Role",
        "DeviceProfileOut",
        "DeviceProfileDetails",
        "DeviceProfileCreate",
        "ProbeBody",
        "ProbeOut",
    ] {
        assert!(spec["components"]["schemas"].get(schema).is_some(), "schema {schema}");
    }
}

/// Walks the router: every documented operation is served (not the 404/405 fallback), and on every documented
/// path each undocumented method is refused with 405 — so router and document agree.
#[tokio::test]
async fn every_documented_route_is_served_and_nothing_else_on_those_paths() {
    let app = spawn_app().await;
    let spec = serde_json::to_value(heating_server::http::openapi()).unwrap();
    let documented = operations(&spec);
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let concrete = path.replace("{id}", "999999");
        for method in METHODS {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = app.client.request(m, app.url(&concrete)).json(&json!({})).send().await.unwrap();
            let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
            let text = content_type == METRICS_CONTENT_TYPE || content_type == CSV_CONTENT_TYPE;
            let (status, body) = if text { (resp.status(), Value::Null) } else { json_of(resp).await };
            let text_ok = (method, path.as_str()) == ("get", "/metrics") || (method == "get" && path.ends_with(".csv"));
            assert!(!text || text_ok, "{method} {path}: text, not JSON");
            let detail = body["detail"].as_str().unwrap_or_default();
            if documented.contains(&(method.to_string(), path.clone())) {
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is documented but not routed");
                assert!(!detail.contains("no route"), "{method} {path} is documented but not routed: {detail}");
                assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {concrete}: {body}");
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is routed but not documented");
            }
        }
    }
}

/// The `Preferences` schema documents every key the server reads, with the server's defaults, ranges and values,
/// and says that unknown keys are accepted.
#[test]
fn the_preferences_schema_documents_every_key_with_its_default() {
    let spec = serde_json::to_value(heating_server::http::openapi()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let schema = &schemas["Preferences"];
    let props = schema["properties"].as_object().unwrap();
    let defaults = Preferences::default().to_json();
    let defaults = defaults.as_object().unwrap();
    for (key, default) in defaults {
        let prop = props.get(key).unwrap_or_else(|| panic!("preference {key} is not documented"));
        let description = prop["description"].as_str().or_else(|| prop["oneOf"][0]["description"].as_str());
        assert!(description.is_some_and(|d| !d.is_empty()), "{key}: no description in {prop}");
        assert_eq!(prop.get("default"), Some(default), "{key}: the documented default is the server's");
        let nullable = prop["type"].as_array().is_some_and(|t| t.contains(&json!("null")))
            || prop["oneOf"].as_array().is_some_and(|o| o.contains(&json!({"type": "null"})));
        assert!(nullable, "{key}: null resets a key, so the schema allows it: {prop}");
    }
    assert_eq!(props.len(), defaults.len(), "every documented key is one the server reads");
    assert_ne!(schema["additionalProperties"], json!(false), "unknown keys are accepted and kept");
    for key in ["occupied_temp", "unoccupied_temp", "min_temp", "max_temp"] {
        assert_eq!((props[key]["minimum"].as_f64(), props[key]["maximum"].as_f64()), (Some(5.0), Some(35.0)), "{key}");
    }
    assert!(schema["description"].as_str().unwrap().contains("min_temp <= max_temp"));

    let strategies: Vec<&str> = ControlStrategy::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(schemas["ControlStrategy"]["enum"], json!(strategies));
    for example in schemas["ScheduleEntry"]["examples"].as_array().unwrap() {
        example.as_str().unwrap().parse::<ScheduleEntry>().unwrap();
    }
    assert!(schemas["ScheduleEntry"]["pattern"].is_string());
    Preferences::parse_valid(schema["example"].clone()).unwrap();
}

/// Two types never share a schema name (utoipa keeps one of them silently): `/status`'s per-zone health and
/// `/health` are told apart. And the constraints the server enforces on input are in the schema.
#[tokio::test]
async fn schemas_are_distinct_and_state_the_enforced_constraints() {
    let spec = serde_json::to_value(heating_server::http::openapi()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let ok = |path: &str, method: &str| {
        spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("#/components/schemas/")
            .to_string()
    };
    let health = &schemas[ok("/health", "get")];
    assert!(health["properties"]["database"].is_object(), "{health}");
    let zone_status = &schemas["ZoneStatus"]["properties"]["health"];
    let zone_health = zone_status["$ref"].as_str().unwrap().trim_start_matches("#/components/schemas/");
    assert_eq!(zone_health, "ZoneHealthOut");
    assert_ne!(ok("/health", "get"), zone_health);
    assert!(schemas[zone_health]["properties"]["consecutive_failures"].is_object());

    let range = |schema: &Value, key: &str| {
        let p = &schema["properties"][key];
        (p["minimum"].as_f64(), p["maximum"].as_f64())
    };
    let reading = &schemas["ReadingCreate"];
    assert_eq!(range(reading, "temperature"), (Some(-60.0), Some(100.0)));
    assert_eq!(range(reading, "outdoor_temp"), (Some(-60.0), Some(100.0)));
    assert_eq!(range(reading, "target_temp"), (Some(5.0), Some(35.0)));
    assert_eq!(range(&schemas["TargetRequest"], "target_temp"), (Some(5.0), Some(35.0)));
    assert_eq!(range(&schemas["CommandCreate"], "target_temp"), (Some(5.0), Some(35.0)));
    assert_eq!(schemas["CommandCreate"]["properties"]["reason"]["maxLength"], 500);

    let param = |path: &str, name: &str| -> Value {
        spec["paths"][path]["get"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap().clone()
    };
    for path in ["/zones/{id}/history", "/sensordata/zone/{id}"] {
        assert!(param(path, "to")["description"].as_str().unwrap().contains("`from`"), "{path}: from before to");
    }
    assert_eq!(param("/zones/{id}/history", "points")["schema"]["maximum"], 2000);
    assert_eq!(param("/zones/{id}/model", "days")["schema"]["maximum"], 14);
    assert_eq!(param("/sensordata", "limit")["schema"]["maximum"], 1000);
    for (path, name) in [("/weather", "location"), ("/weather/forecast/{location}", "location")] {
        let schema = &param(path, name)["schema"];
        assert_eq!((schema["minLength"].as_u64(), schema["maxLength"].as_u64()), (Some(1), Some(100)), "{path}");
        assert!(schema["pattern"].is_string(), "{path}");
    }
}

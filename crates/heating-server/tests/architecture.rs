//! The server's layering, checked on its source: each top-level module of the library uses only modules of lower
//! layers (so there is no import cycle), HTTP handlers reach storage, devices, the clock and the weather only
//! through the services, and nothing below the services knows HTTP. See ARCHITECTURE.md, "Layers".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first. A module may use modules of strictly lower layers only; modules of
/// one layer never use each other.
const LAYERS: &[&[&str]] = &[
    &["config", "domain", "time"],
    &["storage", "prices"],
    &["metrics", "profiles", "demand", "alerts"],
    &["fleet"],
    &["state"],
    &["learning"],
    &["strategy"],
    &["services", "jobs"],
    &["http", "mqtt"],
    &["server"],
    &["app"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library's top-level module a file belongs to (`src/http/zones.rs` → `http`, `src/jobs.rs` → `jobs`);
/// `None` for `lib.rs` and the binary.
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.as_str() {
        "lib.rs" | "bin" => None,
        name => Some(name.trim_end_matches(".rs").to_string()),
    }
}

/// The code of a file without comments (doc comments name other modules freely).
fn code_of(file: &Path) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level modules named as `crate::<module>` in a top-level module's code.
fn uses_of(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            used.insert(name);
        }
    }
    used
}

fn library_files() -> BTreeMap<String, Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut by_module: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    for file in files {
        if let Some(module) = module_of(&file) {
            let code = code_of(&file);
            by_module.entry(module).or_default().push((file, code));
        }
    }
    by_module
}

#[test]
fn every_module_uses_only_lower_layers() {
    let mut wrong = Vec::new();
    for (module, files) in library_files() {
        let Some(own) = layer_of(&module) else {
            wrong.push(format!("{module}: not in LAYERS; give it a layer (and a row in ARCHITECTURE.md)"));
            continue;
        };
        for (file, code) in files {
            for used in uses_of(&code) {
                if used == module {
                    continue;
                }
                match layer_of(&used) {
                    Some(layer) if layer < own => {}
                    Some(_) => {
                        wrong.push(format!("{} uses crate::{used} (a layer not below {module})", file.display()))
                    }
                    None => wrong.push(format!("{} uses crate::{used}, which has no layer", file.display())),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn handlers_go_through_the_services() {
    let files = library_files();
    let mut wrong = Vec::new();
    for (file, code) in &files["http"] {
        let reaches = [
            "state.storage",
            "state.fleet",
            "state.weather",
            "state.clock",
            "state.reports",
            "state.config",
            "state.profiles",
            "state.alerts",
        ];
        for reach in reaches.into_iter().chain(["crate::fleet::dispatch", "Storage", "ZoneLink"]) {
            if code.contains(reach) {
                wrong.push(format!("{} reaches `{reach}` directly", file.display()));
            }
        }
    }
    // The MQTT bridge is an adapter like HTTP: it reads its own settings, and everything else through services.
    for (file, code) in &files["mqtt"] {
        let reaches = ["state.storage", "state.fleet", "state.weather", "state.clock", "state.reports"];
        for reach in reaches.into_iter().chain(["crate::fleet", "crate::storage", "Storage", "ZoneLink"]) {
            if code.contains(reach) {
                wrong.push(format!("{} reaches `{reach}` directly", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "handlers must call services:\n{}", wrong.join("\n"));
}

#[test]
fn nothing_below_the_services_knows_http() {
    let mut wrong = Vec::new();
    for (module, files) in library_files() {
        if layer_of(&module).is_none_or(|l| l >= layer_of("http").unwrap()) {
            continue;
        }
        for (file, code) in files {
            for http in ["axum", "utoipa", "StatusCode", "ApiError"] {
                if code.contains(http) {
                    wrong.push(format!("{} mentions {http}", file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "HTTP below the HTTP layer:\n{}", wrong.join("\n"));
}

//! The device profiles a zone may name: the built-ins, the operator's folder (`DEVICE_PROFILES_DIR`, loaded once at
//! start) and the profiles posted through the API (stored in the database, loaded at start and added as posted).
//!
//! A name belongs to one source: a folder profile may not take a built-in's name, and a posted one neither a
//! built-in's nor a folder's (409). Posted profiles may have several versions; zones use the highest. Changing
//! which profile a name resolves to makes the fleet rebuild the links of the zones that use it (the fleet compares
//! the `Arc`s).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use device_profile::{Capabilities, Profile, ProfileError};

use crate::storage::StoredDeviceProfile;

/// Where a profile came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileSource {
    Builtin,
    /// A file of `DEVICE_PROFILES_DIR`.
    Dir,
    /// Posted through `POST /device-profiles`.
    Api,
}

impl ProfileSource {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Dir => "dir",
            Self::Api => "api",
        }
    }
}

/// A profile the server knows, with its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownProfile {
    pub profile: Arc<Profile>,
    pub source: ProfileSource,
    /// The TOML as written.
    pub toml: String,
    /// The file, for a folder profile.
    pub path: Option<PathBuf>,
    /// Who posted it and when, for a posted profile.
    pub posted: Option<(String, DateTime<Utc>)>,
}

impl KnownProfile {
    #[must_use]
    pub fn name(&self) -> &str {
        &self.profile.name
    }

    #[must_use]
    pub fn capabilities(&self) -> Capabilities {
        self.profile.capabilities()
    }
}

/// Why the profiles folder cannot be used (a startup error).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("DEVICE_PROFILES_DIR {dir}: {error}")]
    Dir { dir: PathBuf, error: std::io::Error },
    #[error("DEVICE_PROFILES_DIR: {file}: {error}")]
    Invalid { file: PathBuf, error: String },
}

/// Every profile a zone may name, by name.
#[derive(Debug)]
pub struct ProfileRegistry {
    profiles: RwLock<BTreeMap<String, Arc<KnownProfile>>>,
}

impl Default for ProfileRegistry {
    fn default() -> Self {
        Self::builtin_only()
    }
}

impl ProfileRegistry {
    /// The built-in profiles only.
    #[must_use]
    pub fn builtin_only() -> Self {
        let mut map = BTreeMap::new();
        for profile in device_profile::builtins() {
            let toml = device_profile::builtin_source(&profile.name).unwrap_or_default().to_string();
            let known = KnownProfile {
                profile: Arc::new(profile),
                source: ProfileSource::Builtin,
                toml,
                path: None,
                posted: None,
            };
            map.insert(known.name().to_string(), Arc::new(known));
        }
        Self { profiles: RwLock::new(map) }
    }

    /// The built-ins and every `*.toml` of `dir` (in file-name order), each validated; the first invalid file, or
    /// one named like a profile already loaded, is the error.
    pub fn load(dir: Option<&Path>) -> Result<Self, LoadError> {
        let registry = Self::builtin_only();
        let Some(dir) = dir else { return Ok(registry) };
        let dir_error = |error| LoadError::Dir { dir: dir.to_path_buf(), error };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(dir_error)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let invalid = |error: String| LoadError::Invalid { file: file.clone(), error };
            let text = std::fs::read_to_string(&file).map_err(|e| invalid(e.to_string()))?;
            let profile = Profile::from_toml(&text).map_err(|e| invalid(e.to_string()))?;
            if let Some(other) = registry.get(&profile.name) {
                let whose = match &other.path {
                    Some(path) => format!("the profile of {}", path.display()),
                    None => "a built-in profile".to_string(),
                };
                return Err(invalid(format!("name: {:?} is already {whose}", profile.name)));
            }
            let known = KnownProfile {
                profile: Arc::new(profile),
                source: ProfileSource::Dir,
                toml: text,
                path: Some(file.clone()),
                posted: None,
            };
            tracing::info!(profile = %known.name(), file = %file.display(), "device profile loaded");
            registry.insert(known);
        }
        Ok(registry)
    }

    fn insert(&self, known: KnownProfile) {
        let mut map = self.profiles.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(known.name().to_string(), Arc::new(known));
    }

    /// Adds profiles read back from the database (at start). One that no longer validates (a later build's rules)
    /// or that a built-in or folder profile shadows is skipped with a warning: zones naming it stay unpolled until
    /// it is fixed, rather than the server not starting.
    pub fn add_stored(&self, stored: &[StoredDeviceProfile]) {
        for s in stored {
            if let Err(why) = self.add_posted(s) {
                tracing::warn!(profile = %s.name, version = s.version, "stored device profile not used: {why}");
            }
        }
    }

    /// Adds a stored posted profile; kept when it is the name's highest version. The error says why it cannot be
    /// used (invalid, or the name is taken by a built-in or folder profile).
    pub fn add_posted(&self, s: &StoredDeviceProfile) -> Result<(), String> {
        let profile = Profile::from_toml(&s.toml).map_err(|e| e.to_string())?;
        self.check_name(&profile)?;
        let newer = self.get(&profile.name).is_none_or(|old| old.profile.version < profile.version);
        if newer {
            self.insert(KnownProfile {
                profile: Arc::new(profile),
                source: ProfileSource::Api,
                toml: s.toml.clone(),
                path: None,
                posted: Some((s.actor.clone(), s.created_at)),
            });
        }
        Ok(())
    }

    /// Whether `profile` may be posted: its name is not a built-in's or a folder profile's.
    pub fn check_name(&self, profile: &Profile) -> Result<(), String> {
        match self.get(&profile.name) {
            Some(known) if known.source != ProfileSource::Api => Err(format!(
                "name: {:?} is a {} profile; choose another name",
                profile.name,
                if known.source == ProfileSource::Builtin { "built-in" } else { "DEVICE_PROFILES_DIR" }
            )),
            _ => Ok(()),
        }
    }

    /// Parses and validates posted TOML (the validator's message as the error).
    pub fn parse(text: &str) -> Result<Profile, ProfileError> {
        Profile::from_toml(text)
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<Arc<KnownProfile>> {
        self.profiles.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    /// Every profile, by name.
    #[must_use]
    pub fn list(&self) -> Vec<Arc<KnownProfile>> {
        self.profiles.read().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    /// The known names, comma-separated, for error messages.
    #[must_use]
    pub fn names(&self) -> String {
        self.profiles.read().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "format = 1\nname = \"own\"\nversion = 1\ndescription = \"d\"\n\
        [points.air_temperature]\ntable = \"input\"\naddress = 0\ntype = \"int16\"\nscale = 0.1\n\
        [points.target]\ntable = \"holding\"\naddress = 0\ntype = \"int16\"\nscale = 0.1\nwrite = \"fc06\"\n\
        min = 5.0\nmax = 30.0\nstep = 0.5\n";

    #[test]
    fn builtins_then_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("own.toml"), OWN).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a profile").unwrap();
        let r = ProfileRegistry::load(Some(dir.path())).unwrap();
        assert_eq!(r.names(), "heating-sim, own, prototype-v1, relay-coil, thermo-f32");
        let own = r.get("own").unwrap();
        assert_eq!(
            (own.source, own.path.as_deref()),
            (ProfileSource::Dir, Some(dir.path().join("own.toml").as_path()))
        );
        assert_eq!(r.get("heating-sim").unwrap().source, ProfileSource::Builtin);
    }

    #[test]
    fn an_invalid_file_names_the_file_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.toml"), OWN.replace("step = 0.5", "step = 0.0")).unwrap();
        let e = ProfileRegistry::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.starts_with("DEVICE_PROFILES_DIR: ") && e.contains("bad.toml: points.target.step"), "{e}");
        let clash = tempfile::tempdir().unwrap();
        std::fs::write(clash.path().join("sim.toml"), OWN.replace("\"own\"", "\"heating-sim\"")).unwrap();
        let e = ProfileRegistry::load(Some(clash.path())).unwrap_err().to_string();
        assert!(e.contains("sim.toml: name: \"heating-sim\" is already a built-in profile"), "{e}");
        let missing = ProfileRegistry::load(Some(Path::new("/nonexistent/profiles"))).unwrap_err().to_string();
        assert!(missing.starts_with("DEVICE_PROFILES_DIR /nonexistent/profiles: "), "{missing}");
    }

    #[test]
    fn posted_profiles_keep_the_highest_version_and_never_shadow_a_builtin() {
        let r = ProfileRegistry::builtin_only();
        let stored = |name: &str, version: u32| StoredDeviceProfile {
            id: 1,
            name: name.into(),
            version,
            toml: OWN.replace("\"own\"", &format!("{name:?}")).replace("version = 1", &format!("version = {version}")),
            created_at: DateTime::UNIX_EPOCH,
            actor: "admin".into(),
        };
        r.add_posted(&stored("own", 2)).unwrap();
        r.add_posted(&stored("own", 1)).unwrap();
        assert_eq!(r.get("own").unwrap().profile.version, 2);
        assert_eq!(r.get("own").unwrap().source, ProfileSource::Api);
        let e = r.add_posted(&stored("relay-coil", 1)).unwrap_err();
        assert_eq!(e, "name: \"relay-coil\" is a built-in profile; choose another name");
    }
}

//! Where to connect and with which token: `--server`/`HEATCTL_SERVER` and `--token`/`HEATCTL_TOKEN` first, then the
//! config file (`--config`/`HEATCTL_CONFIG`, else `$XDG_CONFIG_HOME/heatctl/config.toml`, else
//! `~/.config/heatctl/config.toml`) with the keys `server` and `token`, then the default server
//! `http://127.0.0.1:8000` (no token: local mode). A config file that holds a token must not be readable by
//! everyone (it is refused, like ssh refuses such a key); readable by the group gets a warning.

use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::Deserialize;

use crate::error::{Failure, Result};

/// The server the client talks to when nothing says otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8000";

/// A token. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A token as given: trimmed; refused (without echoing it) when it cannot be sent in an HTTP header.
    pub fn parse(raw: &str, from: &str) -> Result<Option<Self>> {
        let t = raw.trim();
        if t.is_empty() {
            return Ok(None);
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Failure::usage(format!(
                "the token from {from} holds blanks or characters that cannot be sent in an HTTP header"
            )));
        }
        Ok(Some(Self(t.to_string())))
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Where the token came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    None,
    Flag,
    File(PathBuf),
}

/// The resolved connection settings.
#[derive(Debug)]
pub struct Settings {
    pub server: Url,
    pub token: Option<Token>,
    pub token_source: TokenSource,
    /// The config file looked at (whether or not it exists), for messages.
    pub config_path: Option<PathBuf>,
}

/// The config file's keys.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    server: Option<String>,
    token: Option<String>,
}

/// Parses a server URL: `http` or `https`, with a host; a trailing slash is dropped.
pub fn parse_server(raw: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("{raw:?} is not a URL ({e}); e.g. {DEFAULT_SERVER}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{raw:?} is not an http:// or https:// URL with a host; e.g. {DEFAULT_SERVER}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{raw:?}: the server URL takes no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the server URL must not hold credentials: give the token with --token or HEATCTL_TOKEN".into());
    }
    Ok(url)
}

/// The default config file path, from the environment.
#[must_use]
pub fn default_config_path() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = xdg.filter(|p| p.is_absolute()).or_else(|| {
        std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|home| PathBuf::from(home).join(".config"))
    })?;
    Some(base.join("heatctl").join("config.toml"))
}

/// Resolves the settings from the flags (clap has already read their environment variables) and the config file.
pub fn resolve(server: Option<Url>, token: Option<&str>, config: Option<PathBuf>) -> Result<Settings> {
    let explicit_config = config.is_some();
    let config_path = config.or_else(default_config_path);
    let token = match token {
        Some(raw) => Token::parse(raw, "--token/HEATCTL_TOKEN")?,
        None => None,
    };
    let mut settings = Settings {
        server: server.clone().unwrap_or_else(|| Url::parse(DEFAULT_SERVER).expect("the default URL parses")),
        token_source: if token.is_some() { TokenSource::Flag } else { TokenSource::None },
        token,
        config_path: config_path.clone(),
    };
    // Nothing to take from a file when both came from flags or the environment.
    if server.is_some() && settings.token.is_some() {
        return Ok(settings);
    }
    let Some(path) = config_path else { return Ok(settings) };
    let file = match read_config(&path) {
        Ok(Some(file)) => file,
        Ok(None) if explicit_config => {
            return Err(Failure::other(format!("config file {} does not exist", path.display())));
        }
        Ok(None) => return Ok(settings),
        Err(e) => return Err(e),
    };
    if server.is_none()
        && let Some(raw) = &file.server
    {
        settings.server = parse_server(raw).map_err(|e| Failure::other(format!("{}: server: {e}", path.display())))?;
    }
    if settings.token.is_none()
        && let Some(raw) = &file.token
    {
        let from = path.display().to_string();
        if let Some(token) = Token::parse(raw, &from).map_err(|e| Failure::other(e.message))? {
            check_permissions(&path)?;
            settings.token = Some(token);
            settings.token_source = TokenSource::File(path);
        }
    }
    Ok(settings)
}

/// The config file, or `None` when it does not exist.
fn read_config(path: &Path) -> Result<Option<FileConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Failure::other(format!("cannot read config file {}: {e}", path.display()))),
    };
    // toml's messages quote the offending line, which may be the token's: say where, not what.
    toml::from_str(&text).map(Some).map_err(|e| {
        let at = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let at = at.map_or(String::new(), |line| format!(" (line {line})"));
        Failure::other(format!(
            "config file {} is not valid{at}: expected TOML with the keys `server` and `token`, e.g. \
             server = \"{DEFAULT_SERVER}\"",
            path.display()
        ))
    })
}

/// Refuses a token file readable by everyone; warns about one readable by the group.
#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| Failure::other(format!("cannot read config file {}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o004 != 0 {
        return Err(Failure::other(format!(
            "config file {} holds a token but is readable by everyone (mode {:03o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    if mode & 0o040 != 0 {
        eprintln!(
            "heatctl: warning: config file {} holds a token and is readable by its group (mode {:03o}); \
             consider `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert_eq!(parse_server("http://127.0.0.1:8000").unwrap().as_str(), "http://127.0.0.1:8000/");
        assert!(parse_server("https://heating.example/").is_ok());
        assert!(parse_server("127.0.0.1:8000").is_err());
        assert!(parse_server("ftp://x").is_err());
        assert!(parse_server("http://u:p@x").is_err());
        assert!(parse_server("http://x/?a=1").is_err());
    }

    #[test]
    fn tokens_are_never_shown() {
        let t = Token::parse(" hst_secret ", "test").unwrap().unwrap();
        assert_eq!(t.expose(), "hst_secret");
        assert!(!format!("{t:?}").contains("secret"));
        assert!(Token::parse("  ", "test").unwrap().is_none());
        let e = Token::parse("hst_a b", "test").unwrap_err();
        assert!(!e.message.contains("hst_a"), "{}", e.message);
    }

    #[test]
    fn config_file_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "server = \"http://10.0.0.2:8000\"\ntoken = \"hst_fromfile\"\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = resolve(None, None, Some(path.clone())).unwrap_err();
            assert!(e.message.contains("readable by everyone") && !e.message.contains("hst_"), "{}", e.message);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let s = resolve(None, None, Some(path.clone())).unwrap();
        assert_eq!(s.server.as_str(), "http://10.0.0.2:8000/");
        assert_eq!(s.token.unwrap().expose(), "hst_fromfile");
        // Flags win over the file.
        let flag = parse_server("http://127.0.0.1:9").unwrap();
        let s = resolve(Some(flag), Some("hst_flag"), Some(path.clone())).unwrap();
        assert_eq!((s.server.port(), s.token.unwrap().expose()), (Some(9), "hst_flag"));
        // A broken file says where, never what.
        std::fs::write(&path, "token = hst_unquoted\n").unwrap();
        let e = resolve(None, None, Some(path)).unwrap_err();
        assert!(e.message.contains("line 1") && !e.message.contains("hst_"), "{}", e.message);
        assert!(resolve(None, None, Some(dir.path().join("missing.toml"))).is_err());
    }
}

//! Where electricity prices come from (flattened into [`super::Config`]).
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--price-source` | `PRICE_SOURCE` | `tou` (the built-in time-of-use table); `csv:PATH` (a `timestamp,eur_kwh` file); `http:URL` (a JSON feed) |
//! | `--price-refresh-minutes` | `PRICE_REFRESH_MINUTES` | `60` (server-clock minutes between two reads of the source, 0.01 to 1440) |
//! | `--price-timeout-ms` | `PRICE_TIMEOUT_MS` | `5000` (deadline of one feed request, 100 to 60000) |

use std::fmt;
use std::path::PathBuf;

pub const DEFAULT_PRICE_REFRESH_MINUTES: f64 = 60.0;
pub const DEFAULT_PRICE_TIMEOUT_MS: u64 = 5000;

/// A price source as `PRICE_SOURCE` names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PriceSource {
    /// The built-in time-of-use table ([`heating_predict::PriceProfile::default`]).
    #[default]
    Tou,
    /// A `timestamp,eur_kwh` file (RFC 3339 times, each price in force until the next row).
    Csv(PathBuf),
    /// An HTTP(S) URL serving the JSON feed documented in the README (`{"currency","unit","prices":[…]}`).
    Http(reqwest::Url),
}

impl fmt::Display for PriceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tou => f.write_str("tou"),
            Self::Csv(path) => write!(f, "csv:{}", path.display()),
            // Only scheme, host, port and path: a query string may hold a token.
            Self::Http(url) => {
                let mut shown = url.clone();
                shown.set_query(None);
                let _ = shown.set_password(None);
                let _ = shown.set_username("");
                write!(f, "http:{shown}")
            }
        }
    }
}

/// `tou`, `csv:PATH` or `http:URL` (the URL itself `http://` or `https://`).
pub fn parse_price_source(s: &str) -> Result<PriceSource, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("tou") {
        return Ok(PriceSource::Tou);
    }
    if let Some(path) = s.strip_prefix("csv:") {
        if path.trim().is_empty() {
            return Err("csv: needs a file path, e.g. csv:/etc/heating/prices.csv".into());
        }
        return Ok(PriceSource::Csv(PathBuf::from(path.trim())));
    }
    if let Some(rest) = s.strip_prefix("http:") {
        // `http:https://host/…`; `http://host/…` alone is taken as the URL too.
        let raw = if rest.starts_with("//") { s } else { rest };
        let url = reqwest::Url::parse(raw).map_err(|e| format!("http: {raw:?} is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("http: {raw:?} must be an http:// or https:// URL with a host"));
        }
        return Ok(PriceSource::Http(url));
    }
    Err(format!("unknown price source {s:?}: expected tou, csv:PATH or http:URL"))
}

fn parse_minutes(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of minutes"))?;
    if v.is_finite() && (0.01..=1440.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0.01..=1440 minutes"))
    }
}

/// Price settings. Bad values are refused by the parser, naming the flag and the variable.
#[derive(Debug, Clone, clap::Args)]
pub struct PriceSettings {
    /// Where electricity prices come from: `tou` (the built-in time-of-use table), `csv:PATH` (a
    /// `timestamp,eur_kwh` file) or `http:URL` (a JSON feed, see the README). Beyond the end of what the source
    /// published, and while it has never answered, the time-of-use table applies.
    #[arg(long, env = "PRICE_SOURCE", default_value = "tou", value_parser = parse_price_source)]
    pub price_source: PriceSource,
    /// Server-clock minutes between two reads of the price source (a failed read is retried after the same time;
    /// the last good series is kept meanwhile).
    #[arg(long, env = "PRICE_REFRESH_MINUTES", default_value_t = DEFAULT_PRICE_REFRESH_MINUTES,
          value_parser = parse_minutes)]
    pub price_refresh_minutes: f64,
    /// Deadline of one request to the price feed, in milliseconds.
    #[arg(long, env = "PRICE_TIMEOUT_MS", default_value_t = DEFAULT_PRICE_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub price_timeout_ms: u64,
}

impl Default for PriceSettings {
    fn default() -> Self {
        Self {
            price_source: PriceSource::Tou,
            price_refresh_minutes: DEFAULT_PRICE_REFRESH_MINUTES,
            price_timeout_ms: DEFAULT_PRICE_TIMEOUT_MS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_bad_ones_are_named() {
        assert_eq!(parse_price_source("TOU"), Ok(PriceSource::Tou));
        assert_eq!(parse_price_source("csv:/tmp/p.csv"), Ok(PriceSource::Csv("/tmp/p.csv".into())));
        let PriceSource::Http(url) = parse_price_source("http:https://example.org/p?token=s3cret").unwrap() else {
            panic!()
        };
        assert_eq!(url.host_str(), Some("example.org"));
        let shown = PriceSource::Http(url).to_string();
        assert_eq!(shown, "http:https://example.org/p");
        assert!(parse_price_source("http:ftp://x/").unwrap_err().contains("http:// or https://"));
        assert!(parse_price_source("csv:").is_err());
        assert!(parse_price_source("spot").unwrap_err().contains("expected tou, csv:PATH or http:URL"));
        let err = crate::config::Config::try_parse_from_for_test(["x", "--price-source", "spot"]);
        assert!(err.contains("--price-source"), "{err}");
        let err = crate::config::Config::try_parse_from_for_test(["x", "--price-refresh-minutes", "0"]);
        assert!(err.contains("--price-refresh-minutes") && err.contains("0.01..=1440"), "{err}");
    }
}

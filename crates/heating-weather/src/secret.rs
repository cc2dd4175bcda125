//! The WeatherAPI.com key, kept out of every `Debug`, `Display`, error and log line.

use std::fmt;
use std::str::FromStr;

/// An API key. `Debug` and `Display` print `[redacted]`; the only reader is [`ApiKey::expose`], called where the key
/// is put into the upstream request.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key, trimmed of surrounding whitespace (a `.env` line often ends in a space or `\r`).
    #[must_use]
    pub fn new(value: impl AsRef<str>) -> Self {
        Self(value.as_ref().trim().to_string())
    }

    /// An empty `WEATHERAPI_KEY=` (as in `.env.example`) means "no key".
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key itself. Call only to build the upstream request.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for ApiKey {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let key = ApiKey::new(" s3cr3t-key\r\n");
        assert_eq!(key.expose(), "s3cr3t-key");
        assert_eq!(format!("{key}"), "[redacted]");
        assert_eq!(format!("{key:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(key)), "Some([redacted])");
        assert!(ApiKey::new("  ").is_empty());
    }
}

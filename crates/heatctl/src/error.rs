//! What can go wrong, and the exit code each kind of failure ends the process with. The codes are a contract with
//! scripts (documented in `--help` and the README): never renumber them.

use std::process::ExitCode;

/// The kinds of failure, by exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: anything else (a bad config file, an answer that is not JSON, ...).
    Other,
    /// 2: the command line is wrong (clap's own code; also a bad `--server` URL).
    Usage,
    /// 3: the server refused the token (401), its role (403), or the caller's address (429).
    Auth,
    /// 4: no such zone (or hold, or route).
    NotFound,
    /// 5: the server refused the input (400, 409, 413, 415, 422): its detail is shown as is.
    Refused,
    /// 6: the server or the zone's device is unavailable (5xx, connection refused, timeout).
    Unavailable,
}

impl Kind {
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Other => 1,
            Self::Usage => 2,
            Self::Auth => 3,
            Self::NotFound => 4,
            Self::Refused => 5,
            Self::Unavailable => 6,
        }
    }

    #[must_use]
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.code())
    }
}

/// A failure to report: one message for a person, and its kind. Messages never hold the token.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(Kind::Other, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// The exit codes as `--help` lists them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok
  1  any other error (bad config file, unexpected answer)
  2  usage: the command line is wrong
  3  authentication or authorization: the server refused the token (401), its role (403) or this address (429)
  4  not found: no such zone (the message lists the zones), or no hold to release
  5  the server refused the input (400/409/422): its detail is shown as is
  6  the server or the zone's device is unavailable (5xx, connection refused, timeout)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let all = [Kind::Other, Kind::Usage, Kind::Auth, Kind::NotFound, Kind::Refused, Kind::Unavailable];
        let codes: Vec<u8> = all.iter().map(|k| k.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
        for code in codes {
            assert!(EXIT_CODES_HELP.contains(&format!("  {code}  ")), "{code} is documented");
        }
    }
}

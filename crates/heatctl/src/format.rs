//! Output for people: aligned plain-text tables (colour only on a terminal, and never with `NO_COLOR`), numbers,
//! times and durations; and the duration syntax of `--hold` and `--since` (`30m`, `2h`, `1d`, `1h30m`).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use serde_json::Value;

/// Whether to colour stdout: a terminal, and neither `NO_COLOR` nor `--no-color`.
#[must_use]
pub fn colour_wanted(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// A style for a cell, applied after padding so alignment ignores the escape codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Good,
    Warn,
    Bad,
    Dim,
}

impl Style {
    fn code(self) -> Option<&'static str> {
        match self {
            Self::Plain => None,
            Self::Good => Some("32"),
            Self::Warn => Some("33"),
            Self::Bad => Some("31"),
            Self::Dim => Some("2"),
        }
    }
}

/// A table: a header and rows of cells; columns listed in `right` are right-aligned (numbers).
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<(String, Style)>>,
    right: Vec<usize>,
}

impl Table {
    #[must_use]
    pub fn new(header: &[&str]) -> Self {
        Self { header: header.iter().map(|h| (*h).to_string()).collect(), ..Self::default() }
    }

    #[must_use]
    pub fn right_aligned(mut self, columns: &[usize]) -> Self {
        self.right = columns.to_vec();
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(|c| (c, Style::Plain)).collect());
    }

    pub fn styled_row(&mut self, cells: Vec<(String, Style)>) {
        self.rows.push(cells);
    }

    #[must_use]
    pub fn render(&self, colour: bool) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, (cell, _)) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let mut out = String::new();
        let header: Vec<(String, Style)> = self.header.iter().map(|h| (h.clone(), Style::Plain)).collect();
        for (n, row) in std::iter::once(&header).chain(&self.rows).enumerate() {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let (cell, style) = row.get(i).map_or(("", Style::Plain), |(c, s)| (c.as_str(), *s));
                let pad = " ".repeat(w.saturating_sub(width(cell)));
                let padded = if self.right.contains(&i) { format!("{pad}{cell}") } else { format!("{cell}{pad}") };
                if i > 0 {
                    line.push_str("  ");
                }
                match (colour, if n == 0 { Some("1") } else { style.code() }) {
                    (true, Some(code)) => {
                        let _ = write!(line, "\x1b[{code}m{padded}\x1b[0m");
                    }
                    _ => line.push_str(&padded),
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Display width: characters (the tables hold no wide characters but `°` and `–`, both one column).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// `21.5 °C`, or `–` for null.
#[must_use]
pub fn celsius(v: &Value) -> String {
    v.as_f64().map_or_else(|| "–".into(), |c| format!("{c:.1} °C"))
}

/// `21.5`, or empty for null (CSV).
#[must_use]
pub fn number(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// A percentage of a 0..1 fraction, or `–`.
#[must_use]
pub fn percent(v: &Value) -> String {
    v.as_f64().map_or_else(|| "–".into(), |f| format!("{:.0} %", f * 100.0))
}

/// A string field, or `–`.
#[must_use]
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

/// An RFC 3339 field, parsed.
#[must_use]
pub fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|t| t.to_utc())
}

/// A time in this machine's time zone, `2026-11-27 11:00:05`.
#[must_use]
pub fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// How long ago `then` was, seen at `now`: `12s ago`, `5m ago`, `3h ago`, `2d ago`.
#[must_use]
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    if secs < 0 {
        return format!("in {}", short_duration(secs.unsigned_abs()));
    }
    format!("{} ago", short_duration(secs.unsigned_abs()))
}

/// `45s`, `12m5s`, `1h59m`, `2d3h`: the two largest units, rounded down.
#[must_use]
pub fn short_duration(secs: u64) -> String {
    let units = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)];
    let Some(first) = units.iter().position(|(_, size)| secs >= *size) else { return "0s".into() };
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in &units[first..(first + 2).min(units.len())] {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    out
}

/// Parses `90s`, `30m`, `2h`, `1d`, `1w`, or a sum like `1h30m`; a bare number is minutes.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let s = raw.trim().to_ascii_lowercase();
    let bad = || format!("{raw:?} is not a duration: use e.g. 30m, 2h, 1d or 1h30m (s, m, h, d, w)");
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(minutes) = s.parse::<u64>() {
        return minutes.checked_mul(60).map(Duration::from_secs).ok_or_else(bad);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// A duration for people: `2h`, `1h30m`, `1d`.
#[must_use]
pub fn human_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            let _ = write!(out, "{}{unit}", secs / size);
            secs %= size;
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap().as_secs(), 1800);
        assert_eq!(parse_duration("2h").unwrap().as_secs(), 7200);
        assert_eq!(parse_duration("1d").unwrap().as_secs(), 86_400);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("90").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration(" 2H ").unwrap().as_secs(), 7200);
        for bad in ["", "h", "2x", "2h3", "-1h", "0m", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(human_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human_duration(Duration::from_secs(86_400)), "1d");
    }

    #[test]
    fn tables_align_and_colour_only_when_asked() {
        let mut t = Table::new(&["NAME", "AIR"]).right_aligned(&[1]);
        t.row(vec!["Living Room".into(), "21.5 °C".into()]);
        t.styled_row(vec![("Office".into(), Style::Bad), ("9.0 °C".into(), Style::Plain)]);
        let plain = t.render(false);
        assert_eq!(plain, "NAME             AIR\nLiving Room  21.5 °C\nOffice        9.0 °C\n");
        assert!(!plain.contains('\x1b'));
        assert!(t.render(true).contains("\x1b[31mOffice     \x1b[0m"));
    }

    #[test]
    fn values() {
        assert_eq!(celsius(&serde_json::json!(21.46)), "21.5 °C");
        assert_eq!(celsius(&Value::Null), "–");
        assert_eq!(percent(&serde_json::json!(0.25)), "25 %");
        assert_eq!(number(&Value::Null), "");
        let t0 = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().to_utc();
        assert_eq!(ago(t0, t0 + chrono::Duration::seconds(75)), "1m15s ago");
        assert_eq!(ago(t0, t0 + chrono::Duration::seconds(120)), "2m ago");
        assert_eq!(ago(t0 + chrono::Duration::seconds(7190), t0), "in 1h59m");
        assert_eq!(ago(t0, t0), "0s ago");
        assert_eq!(short_duration(3 * 86_400 + 7200 + 5), "3d2h");
    }
}

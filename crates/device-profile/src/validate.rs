//! Parsing and validation: a profile that passes can be read, decoded and written without further checks.
//!
//! The rules are documented on [`Profile::validate`].

use crate::model::{DataType, FORMAT_VERSION, Point, PointKind, Profile, Table, WriteFunction};

/// Why a profile is refused. The `Display` is what an API answers (`{"detail": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Not TOML, or not the shape of a profile (an unknown field, a missing one, a wrong type).
    #[error("{0}")]
    Syntax(String),
    /// Well-formed, but a rule is broken; `field` is its path (`points.target.step`).
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ProfileError {
    ProfileError::Invalid { field: field.into(), reason: reason.into() }
}

impl Profile {
    /// Parses and validates a profile.
    pub fn from_toml(text: &str) -> Result<Self, ProfileError> {
        // The format is checked before the shape, so a profile of a later format gets that said, not a list of
        // fields this build does not know.
        let table: toml::Table = toml::from_str(text).map_err(|e| ProfileError::Syntax(one_line(&e.to_string())))?;
        match table.get("format") {
            None => return Err(invalid("format", format!("missing; this build reads format = {FORMAT_VERSION}"))),
            Some(toml::Value::Integer(v)) if *v == i64::from(FORMAT_VERSION) => {}
            Some(other) => {
                return Err(invalid(
                    "format",
                    format!("unsupported format version {other}; this build reads format = {FORMAT_VERSION}"),
                ));
            }
        }
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Syntax(one_line(&e.to_string())))?;
        profile.validate()?;
        Ok(profile)
    }

    /// Checks every rule; each error names the field (`points.target.write: …`):
    /// - `format` must be [`FORMAT_VERSION`]; unknown fields anywhere are refused;
    /// - `name` matches `[a-z0-9-]{1,64}`; `description` is not empty;
    /// - coils and discrete inputs hold `bool` only; a `bool` on a holding or input register is a register holding 0 or
    ///   1; `occupancy`, `heater`, `window_contact` are `bool`, every other point a number (the target may be a `bool`
    ///   coil written with fc05);
    /// - `word_order` only on 32-bit types; `scale` finite and not 0; `offset` finite;
    ///   `address` + width ≤ 65536; no two points of one table share an address;
    /// - the target has `write`, `min`, `max`, `step`: fc05 on a coil (off = min = offset, on = max = offset + scale,
    ///   step = max − min), fc06 on a 16-bit holding register, fc16 on a holding register; min < max; step > 0; min
    ///   and max fit the type; for integer types the step is a whole number of scale units; other points have none of
    ///   these;
    /// - `energy` is a `uint16` or `uint32` counter with a positive scale, `wraps_at` (energy only) positive;
    /// - `rated_power_w`, if given, within 0..=1 MW.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.format != FORMAT_VERSION {
            return Err(invalid(
                "format",
                format!("unsupported format version {}; this build reads format = {FORMAT_VERSION}", self.format),
            ));
        }
        check_name(&self.name)?;
        if self.description.trim().is_empty() {
            return Err(invalid("description", "must not be empty"));
        }
        if let Some(w) = self.rated_power_w {
            let (lo, hi, _) = PointKind::RatedPower.plausible_range();
            if !w.is_finite() || w < lo || w > hi {
                return Err(invalid("rated_power_w", format!("{w} is outside {lo}..={hi} W")));
            }
        }
        for (kind, point) in self.points.iter() {
            check_point(kind, point)?;
        }
        check_overlaps(self)?;
        Ok(())
    }
}

/// toml's messages span several lines (a source excerpt); an API detail is one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_name(name: &str) -> Result<(), ProfileError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(invalid("name", format!("{name:?} must match [a-z0-9-]{{1,64}}"))) }
}

fn check_point(kind: PointKind, p: &Point) -> Result<(), ProfileError> {
    let field = |f: &str| format!("points.{kind}.{f}");
    let t = p.data_type;
    if p.table.is_bits() && t != DataType::Bool {
        return Err(invalid(field("type"), format!("a {} holds one bit: the type must be bool, not {t}", p.table)));
    }
    if kind.is_flag() && t != DataType::Bool {
        return Err(invalid(field("type"), format!("{kind} is on/off: the type must be bool, not {t}")));
    }
    // The target's type is checked with its write function (a bool target is a coil written with fc05).
    if !kind.is_flag() && kind != PointKind::Target && t == DataType::Bool {
        return Err(invalid(field("type"), format!("{kind} cannot be bool: it is a number")));
    }
    if p.word_order.is_some() && t.width() != 2 {
        return Err(invalid(field("word_order"), format!("applies to 32-bit types only, not {t}")));
    }
    if !p.scale.is_finite() || p.scale == 0.0 {
        return Err(invalid(field("scale"), format!("{} must be a finite number other than 0", p.scale)));
    }
    if !p.offset.is_finite() {
        return Err(invalid(field("offset"), format!("{} must be a finite number", p.offset)));
    }
    if kind.is_flag() && (p.scale != 1.0 || p.offset != 0.0) {
        return Err(invalid(field("scale"), format!("{kind} is on/off: no scale or offset")));
    }
    if p.end() > 65_536 {
        return Err(invalid(
            field("address"),
            format!("{} + {} register(s) passes the end of the table (last address 65535)", p.address, p.width()),
        ));
    }
    if kind == PointKind::Target {
        check_target(p, &field)?;
    } else {
        for (name, given) in [
            ("write", p.write.is_some()),
            ("min", p.min.is_some()),
            ("max", p.max.is_some()),
            ("step", p.step.is_some()),
        ] {
            if given {
                return Err(invalid(field(name), "only the target has a write spec"));
            }
        }
    }
    if kind == PointKind::Energy {
        if !matches!(t, DataType::Uint16 | DataType::Uint32) {
            return Err(invalid(field("type"), format!("the energy counter must be uint16 or uint32, not {t}")));
        }
        if p.scale < 0.0 {
            return Err(invalid(field("scale"), "a counter's scale must be positive"));
        }
        if let Some(w) = p.wraps_at
            && (!w.is_finite() || w <= 0.0)
        {
            return Err(invalid(field("wraps_at"), format!("{w} must be a positive number of Wh")));
        }
    } else if p.wraps_at.is_some() {
        return Err(invalid(field("wraps_at"), "only the energy counter wraps"));
    }
    Ok(())
}

fn check_target(p: &Point, field: &dyn Fn(&str) -> String) -> Result<(), ProfileError> {
    let Some(write) = p.write else {
        return Err(invalid(field("write"), "the target needs a write function: \"fc06\", \"fc16\" or \"fc05\""));
    };
    let (Some(min), Some(max), Some(step)) = (p.min, p.max, p.step) else {
        let missing = [("min", p.min), ("max", p.max), ("step", p.step)]
            .into_iter()
            .find(|(_, v)| v.is_none())
            .map_or("min", |(n, _)| n);
        return Err(invalid(field(missing), "the target needs min, max and step"));
    };
    match (write, p.table) {
        (WriteFunction::Fc05, Table::Coil) => {}
        (WriteFunction::Fc05, table) => {
            return Err(invalid(field("write"), format!("fc05 writes a coil, but the target is a {table} point")));
        }
        (_, Table::Coil) => {
            return Err(invalid(
                field("write"),
                format!("{write} writes registers, but the target is a coil (use fc05)"),
            ));
        }
        (_, Table::Input | Table::DiscreteInput) => {
            return Err(invalid(field("table"), format!("{} is read-only: the target must be writable", p.table)));
        }
        (WriteFunction::Fc06, Table::Holding) if p.width() == 2 => {
            return Err(invalid(
                field("write"),
                format!("fc06 writes one register, but a {} takes two (use fc16)", p.data_type),
            ));
        }
        (_, Table::Holding) if p.data_type == DataType::Bool => {
            return Err(invalid(field("type"), "a bool target is a coil written with fc05"));
        }
        (_, Table::Holding) => {}
    }
    if !min.is_finite() || !max.is_finite() || min >= max {
        return Err(invalid(field("min"), format!("min {min} must be below max {max}")));
    }
    if !step.is_finite() || step <= 0.0 {
        return Err(invalid(field("step"), format!("{step} must be above 0")));
    }
    let (lo, hi, unit) = PointKind::Target.plausible_range();
    if min < lo || max > hi {
        return Err(invalid(field("min"), format!("min..=max {min}..={max} must lie within {lo}..={hi} {unit}")));
    }
    if write == WriteFunction::Fc05 {
        let (off, on) = (p.offset, p.offset + p.scale);
        if min != off || max != on || step != max - min {
            return Err(invalid(
                field("step"),
                format!(
                    "a coil target has two values: off = offset = min, on = offset + scale = max, step = max - min \
                     (here off {off}, on {on}, min {min}, max {max}, step {step})"
                ),
            ));
        }
        return Ok(());
    }
    for (name, v) in [("min", min), ("max", max)] {
        if p.encode(v).is_err() {
            return Err(invalid(field(name), format!("{v} does not fit a {} with scale {}", p.data_type, p.scale)));
        }
    }
    if p.data_type != DataType::Float32 {
        let units = step / p.scale.abs();
        if units < 1.0 - 1e-9 || (units - units.round()).abs() > 1e-6 {
            return Err(invalid(
                field("step"),
                format!("{step} is not a whole number of the register's units (scale {})", p.scale),
            ));
        }
    }
    Ok(())
}

fn check_overlaps(profile: &Profile) -> Result<(), ProfileError> {
    let mut placed: Vec<(PointKind, &Point)> = profile.points.iter().collect();
    placed.sort_by_key(|(_, p)| (p.table, p.address));
    for pair in placed.windows(2) {
        let ((ka, a), (kb, b)) = (pair[0], pair[1]);
        if a.table == b.table && a.end() > u32::from(b.address) {
            return Err(invalid(
                format!("points.{kb}.address"),
                format!("{} {} overlaps points.{ka} ({} {}..{})", b.table, b.address, a.table, a.address, a.end()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

//! The building's demand cap (flattened into [`super::Config`]): the most the heaters together may draw, as a
//! mean over each aligned 15-minute window.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--demand-cap-kw` | `DEMAND_CAP_KW` | none (no cap) |
//! | `--demand-cap-windows` | `DEMAND_CAP_WINDOWS` | none: other caps in windows of the site-local day, `HH:MM-HH:MM=KW,…` (first match wins; needs `DEMAND_CAP_KW`) |

use heating_predict::cap::{CapWindow, DemandCap};

/// Demand cap settings; checked at start by [`DemandSettings::cap`].
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DemandSettings {
    /// The building's demand cap in kW: the mean power of all heaters over each aligned 15-minute window stays at
    /// or below it (unset: no cap).
    #[arg(long, env = "DEMAND_CAP_KW")]
    pub demand_cap_kw: Option<f64>,
    /// Other caps in windows of the site-local day, `HH:MM-HH:MM=KW` separated by commas, e.g.
    /// `17:00-21:00=3,06:00-08:00=4` (the first matching window wins; `DEMAND_CAP_KW` elsewhere).
    #[arg(long, env = "DEMAND_CAP_WINDOWS")]
    pub demand_cap_windows: Option<String>,
}

impl DemandSettings {
    /// The cap (its windows in site-local time at `utc_offset_minutes`), `None` without `DEMAND_CAP_KW`; an error
    /// naming the setting when a value is refused.
    pub fn cap(&self, utc_offset_minutes: i32) -> Result<Option<DemandCap>, String> {
        let windows = match self.demand_cap_windows.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|w| w.parse::<CapWindow>().map_err(|e| format!("DEMAND_CAP_WINDOWS: {e}")))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let Some(kw) = self.demand_cap_kw else {
            return if windows.is_empty() {
                Ok(None)
            } else {
                Err("DEMAND_CAP_WINDOWS: needs DEMAND_CAP_KW, the cap outside the windows".into())
            };
        };
        let cap = DemandCap { kw, windows, utc_offset_minutes };
        cap.validate().map_err(|e| {
            let without_windows = DemandCap { windows: Vec::new(), ..cap.clone() };
            let setting = if without_windows.validate().is_ok() { "DEMAND_CAP_WINDOWS" } else { "DEMAND_CAP_KW" };
            format!("{setting}: {e}")
        })?;
        Ok(Some(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(kw: Option<f64>, windows: Option<&str>) -> DemandSettings {
        DemandSettings { demand_cap_kw: kw, demand_cap_windows: windows.map(str::to_string) }
    }

    #[test]
    fn caps_are_checked_naming_the_setting() {
        assert_eq!(settings(None, None).cap(0), Ok(None));
        let cap = settings(Some(4.0), Some("17:00-21:00=3, 06:00-08:00=5")).cap(60).unwrap().unwrap();
        assert_eq!(cap.windows.len(), 2);
        assert_eq!(cap.utc_offset_minutes, 60);
        let err = settings(Some(0.0), None).cap(0).unwrap_err();
        assert!(err.starts_with("DEMAND_CAP_KW: demand cap 0 kW"), "{err}");
        let err = settings(Some(4.0), Some("17:00-21:00=-1")).cap(0).unwrap_err();
        assert!(err.starts_with("DEMAND_CAP_WINDOWS: cap window -1 kW"), "{err}");
        let err = settings(Some(4.0), Some("evening=3")).cap(0).unwrap_err();
        assert!(err.starts_with("DEMAND_CAP_WINDOWS: cap window \"evening=3\""), "{err}");
        let err = settings(None, Some("17:00-21:00=3")).cap(0).unwrap_err();
        assert!(err.contains("needs DEMAND_CAP_KW"), "{err}");
    }
}

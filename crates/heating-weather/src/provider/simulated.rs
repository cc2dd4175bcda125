//! The offline provider: the deterministic [`SyntheticWeather`] model on the shared [`SharedClock`], so the
//! forecast is exactly what the simulated zones feel. Each hourly value is the model's value at that instant; the
//! current observation is the model's value at the clock's "now". No network, no failure.

use chrono::{Duration, NaiveTime};
use heating_core::clock::SharedClock;
use heating_core::weather::SyntheticWeather;

use crate::forecast::{
    Forecast, ForecastDays, ForecastLocation, HourlyTemperature, LocationQuery, Observation, ProviderKind, SiteLocation,
};

/// The simulated provider.
#[derive(Debug, Clone)]
pub struct SimulatedProvider {
    model: SyntheticWeather,
    clock: SharedClock,
    site: Option<SiteLocation>,
}

impl SimulatedProvider {
    #[must_use]
    pub fn new(model: SyntheticWeather, clock: SharedClock, site: Option<SiteLocation>) -> Self {
        Self { model, clock, site }
    }

    #[must_use]
    pub fn model(&self) -> &SyntheticWeather {
        &self.model
    }

    /// `days` whole site-local days from local midnight today, one value per hour. Every location gets the one
    /// site's weather; the name (and the site's coordinates, when it is the site) are reported back.
    #[must_use]
    pub fn forecast(&self, location: &LocationQuery, days: ForecastDays) -> Forecast {
        let now = self.clock.now();
        let offset = Duration::minutes(i64::from(self.model.utc_offset_minutes));
        let local_midnight = (now + offset).date_naive().and_time(NaiveTime::MIN);
        let start = (local_midnight - offset).and_utc();
        let hourly = (0..i64::from(days.get()) * 24)
            .map(|h| {
                let time = start + Duration::hours(h);
                HourlyTemperature {
                    time,
                    local_time: (time + offset).naive_utc(),
                    temperature_c: self.model.temperature_at(time),
                }
            })
            .collect();
        let site = self.site.as_ref().filter(|s| location.matches(s.name.as_str()));
        let coordinates = site.and_then(|s| s.coordinates).or_else(|| location.coordinates());
        Forecast {
            provider: ProviderKind::Simulated,
            location: ForecastLocation {
                name: site.map_or_else(|| location.to_string(), |s| s.name.to_string()),
                region: None,
                country: None,
                latitude: coordinates.map(|c| c.latitude()),
                longitude: coordinates.map(|c| c.longitude()),
                timezone: None,
            },
            current: Some(Observation { temperature_c: self.model.temperature_at(now), observed_at: now }),
            hourly,
            days: days.get(),
            fetched_at: now,
        }
    }
}

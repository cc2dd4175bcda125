//! `GET /zones/{id}/model`: the zone's thermal model (1R1C: UA = 1/R, C, internal gains), identified from its own
//! logged readings with [`heating_predict::identify`] (see [`crate::jobs::learn::fit_zone`]), with the quality of
//! the fit.
//!
//! Fitting is not free (about a second of CPU on two weeks of 5-second readings), so results are cached per zone and
//! number of days for an hour of server-clock time ([`ModelCache`]); the learning job's fits land in the same cache.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use heating_predict::Identification;
use heating_predict::model::{FitQuality, ModelSource, ZoneModel};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use super::zones::require_zone;
use crate::app::AppState;
use crate::jobs::learn::{self, DEFAULT_DAYS, LearnError, MAX_DAYS};
use crate::storage::ZoneId;
use crate::time::serialize_rfc3339;

/// How long a fit is reused (server clock).
pub const CACHE_TTL: Duration = Duration::hours(1);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(zone_model))
}

/// One cached fit: when it was made (server clock) and its result.
type CachedFit = (DateTime<Utc>, Identification);

/// The latest fit of each zone over each number of days.
#[derive(Debug, Default)]
pub struct ModelCache {
    fits: Mutex<HashMap<(ZoneId, u32), CachedFit>>,
}

impl ModelCache {
    /// The cached fit of `zone` over `days`, if it was made less than [`CACHE_TTL`] before `now`.
    pub(crate) fn get(&self, zone: ZoneId, days: u32, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Identification)> {
        let fits = self.fits.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, id) = fits.get(&(zone, days))?;
        (*at <= now && now - *at < CACHE_TTL).then(|| (*at, id.clone()))
    }

    pub(crate) fn put(&self, zone: ZoneId, days: u32, at: DateTime<Utc>, id: Identification) {
        self.fits.lock().unwrap_or_else(PoisonError::into_inner).insert((zone, days), (at, id));
    }

    /// Keeps only the fits of zones for which `keep` holds.
    pub(crate) fn retain(&self, keep: impl Fn(ZoneId) -> bool) {
        self.fits.lock().unwrap_or_else(PoisonError::into_inner).retain(|(id, _), _| keep(*id));
    }
}

/// `?days`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelParams {
    /// Days of readings to fit, ending now (server clock): 1 to 14, default 3. A good fit needs at least 24 hours
    /// of polled readings with the heater both on and off.
    #[param(minimum = 1, maximum = 14)]
    pub days: Option<i64>,
}

impl ModelParams {
    fn days(&self) -> Result<u32, ApiError> {
        match self.days {
            None => Ok(DEFAULT_DAYS),
            Some(d) => u32::try_from(d)
                .ok()
                .filter(|d| (1..=MAX_DAYS).contains(d))
                .ok_or_else(|| ApiError::Unprocessable(format!("days: {d} is outside 1..={MAX_DAYS}"))),
        }
    }
}

/// Where a model came from.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelSourceOut {
    /// Identified from the zone's own readings.
    Identified,
    /// The conservative default (heater sized for a 30 K difference, 40 h time constant), used until a fit is good.
    Fallback,
    /// Given from outside.
    Configured,
}

impl From<ModelSource> for ModelSourceOut {
    fn from(s: ModelSource) -> Self {
        match s {
            ModelSource::Identified => Self::Identified,
            ModelSource::Fallback => Self::Fallback,
            ModelSource::Configured => Self::Configured,
        }
    }
}

/// A zone's 1R1C thermal model: `C·dT/dt = UA·(T_out − T) + P·heater + gains`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneModelOut {
    /// Heat-loss coefficient UA = 1/R, W/K.
    pub ua_w_per_k: f64,
    /// Thermal resistance R = 1/UA, K/W.
    pub resistance_k_per_w: f64,
    /// Heat capacity C, J/K.
    pub capacitance_j_per_k: f64,
    /// Time constant R·C, hours.
    pub time_constant_h: f64,
    /// Rated heater power, W (from the device).
    pub heater_power_w: f64,
    /// Internal gains while vacant, W.
    pub base_gains_w: f64,
    /// Internal gains while occupied, W.
    pub occupied_gains_w: f64,
    pub source: ModelSourceOut,
}

impl From<ZoneModel> for ZoneModelOut {
    fn from(m: ZoneModel) -> Self {
        Self {
            ua_w_per_k: m.ua_w_per_k,
            resistance_k_per_w: m.resistance_k_per_w(),
            capacitance_j_per_k: m.capacitance_j_per_k,
            time_constant_h: m.time_constant_s() / 3600.0,
            heater_power_w: m.heater_power_w,
            base_gains_w: m.base_gains_w,
            occupied_gains_w: m.occupied_gains_w,
            source: m.source.into(),
        }
    }
}

/// How well the fitted model reproduces the logged temperatures.
#[derive(Debug, Serialize, ToSchema)]
pub struct FitQualityOut {
    /// Root-mean-square error of the simulated against the measured air temperature, K.
    pub rmse_k: f64,
    /// Time between the first and the last sample used, hours.
    pub span_h: f64,
    /// One-minute samples used.
    pub samples: usize,
    /// Fraction of the time the heater was on.
    pub heater_duty: f64,
    /// Whether a heater reading was taken to describe the interval before it (`true`) or after it.
    pub heater_lagged: bool,
}

impl From<FitQuality> for FitQualityOut {
    fn from(q: FitQuality) -> Self {
        Self {
            rmse_k: q.rmse_k,
            span_h: q.span_h,
            samples: q.samples,
            heater_duty: q.heater_duty,
            heater_lagged: q.heater_lagged,
        }
    }
}

/// A zone's identified model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneModelFit {
    pub zone_id: ZoneId,
    /// Days of readings fitted (ending at `fitted_at`).
    pub days: u32,
    /// When the fit was made (server clock, RFC 3339). Fits are reused for an hour.
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub fitted_at: DateTime<Utc>,
    /// Whether the fit meets the quality criteria (at least 24 h and 720 samples, heater on and off at least 2 % of
    /// the time, RMSE at most 0.2 K, a plausible time constant).
    pub good: bool,
    /// Why the fit is not good; null when it is.
    pub problem: Option<String>,
    /// The model to use: the fit when good, the conservative fallback otherwise.
    pub model: ZoneModelOut,
    /// The fitted model even when not good; null when nothing could be fitted.
    pub fitted: Option<ZoneModelOut>,
    /// Quality of the fit; null when nothing could be fitted.
    pub quality: Option<FitQualityOut>,
}

impl ZoneModelFit {
    fn new(zone_id: ZoneId, days: u32, fitted_at: DateTime<Utc>, id: Identification) -> Self {
        Self {
            zone_id,
            days,
            fitted_at,
            good: id.good,
            problem: id.problem,
            model: id.model.into(),
            fitted: id.fitted.map(Into::into),
            quality: id.quality.map(Into::into),
        }
    }
}

/// The zone's thermal model, identified from its own readings over the last `days` days, with the fit's quality.
/// Refitted at most hourly: within an hour (server clock) of the last fit over the same `days`, that fit is returned.
#[utoipa::path(
    get, path = "/zones/{id}/model", tag = "model",
    params(("id" = i64, Path, description = "Zone id"), ModelParams),
    responses(
        (status = 200, description = "The model in use (fit or fallback) and the fit's quality", body = ZoneModelFit),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 409, description = "The heater's rated power is not known yet (no device, or not polled yet)",
         body = ErrorBody),
        (status = 422, description = "Bad id or days", body = ErrorBody),
    )
)]
async fn zone_model(
    State(state): State<AppState>,
    Path(id): Path<ZoneId>,
    Query(params): Query<ModelParams>,
) -> Result<Json<ZoneModelFit>, ApiError> {
    let days = params.days()?;
    require_zone(&state, id).await?;
    let now = state.clock.now();
    if let Some((at, fit)) = state.models.get(id, days, now) {
        return Ok(Json(ZoneModelFit::new(id, days, at, fit)));
    }
    let power = state
        .fleet
        .get(id)
        .and_then(|rt| rt.live().reading.map(|r| r.snapshot.heater_power_w))
        .filter(|&p| p > 0)
        .ok_or_else(|| {
            ApiError::Conflict(
                "The heater's rated power is not known yet: the zone has no device, or it has not been polled yet"
                    .into(),
            )
        })?;
    let fit = learn::fit_zone(&state, id, f64::from(power), days, now).await.map_err(|e| match e {
        LearnError::Storage(e) => ApiError::from(e),
        e @ LearnError::Internal(_) => ApiError::Internal(anyhow::anyhow!(e)),
    })?;
    Ok(Json(ZoneModelFit::new(id, days, now, fit)))
}

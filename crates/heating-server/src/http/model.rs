//! `GET /zones/{id}/model`: the zone's thermal model (1R1C: UA = 1/R, C, internal gains), identified from its own
//! logged readings, with the quality of the fit ([`crate::services::models::zone_model`]; fits are reused for an
//! hour of server time, the learning job's included).

use axum::extract::State;
use chrono::{DateTime, Utc};
use heating_predict::model::{FitQuality, ModelSource, ZoneModel};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use crate::services::models::{self, ModelFit};
use crate::state::AppState;
use crate::storage::ZoneId;
use crate::time::serialize_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(zone_model))
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
    /// What the fit assumed where the zone's device has no measurement (its device profile lacks the point), e.g.
    /// `heater power from the profile's rated power (2000 W)`, `occupancy from the zone's occupancy_schedule`.
    pub assumptions: Vec<String>,
}

impl From<ModelFit> for ZoneModelFit {
    fn from(ModelFit { zone_id, days, fitted_at, fit: id, assumptions }: ModelFit) -> Self {
        Self {
            zone_id,
            days,
            fitted_at,
            good: id.good,
            problem: id.problem,
            model: id.model.into(),
            fitted: id.fitted.map(Into::into),
            quality: id.quality.map(Into::into),
            assumptions,
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
    Ok(Json(models::zone_model(&state, id, params.days).await?.into()))
}

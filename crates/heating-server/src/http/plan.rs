//! `GET /zones/{id}/plan`: the predictive controller's current 24-hour plan for a zone, as the dashboard draws it:
//! the planned air temperature at each step, the comfort bound the plan keeps, the planned heater power and the
//! electricity price, and when the warm-up for the next expected occupancy starts.

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use heating_predict::PriceProfile;
use heating_predict::cap::WINDOW;
use heating_predict::control::PlanSummary;
use heating_predict::model::ModelSource;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path};
use super::model::ModelSourceOut;
use crate::services::models::{self, PlanDemand, ZonePlan};
use crate::state::AppState;
use crate::storage::ZoneId;
use crate::time::{serialize_opt_rfc3339, serialize_rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(zone_plan))
}

/// One step of a plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanPointOut {
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// Planned air temperature at `at`, °C (the first point is the measured temperature the plan started from).
    pub temp_c: f64,
    /// The lowest temperature the plan allows at `at`, °C: the comfort bound while people are expected (the
    /// occupied temperature minus 0.5 K), the set-back bound otherwise; null at the first point.
    pub lower_c: Option<f64>,
    /// The highest temperature the plan allows at `at`, °C (the ceiling band's top: the zone's
    /// `occupied_max_temp` / `storage_max_temp`, by default the comfort temperature); null at the first point.
    pub upper_c: Option<f64>,
    /// Planned heater power from `at` to the next point, W; null at the last point.
    pub power_w: Option<f64>,
    /// Electricity price from `at` to the next point, €/kWh; null at the last point.
    pub price_eur_kwh: Option<f64>,
    /// The building demand cap over the clock's 15-minute cap window containing `at` (the lowest during it: the
    /// bound `building_kw` is held to), kW; null without `DEMAND_CAP_KW` and at the last point.
    pub cap_kw: Option<f64>,
    /// The building's planned mean power (all predictive zones, the joint plan under the cap) over the clock's
    /// 15-minute cap window containing `at`, kW; null without a cap, when the plan was not made jointly, and at the
    /// last point.
    pub building_kw: Option<f64>,
}

/// A zone's current plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanOut {
    /// When the plan was made (server clock).
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub made_at: DateTime<Utc>,
    /// Seconds between points.
    pub step_s: i64,
    /// When the warm-up for the next expected occupancy starts; null when none is planned in the horizon.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub preheat_start: Option<DateTime<Utc>>,
    /// Planned energy and cost over the horizon.
    pub energy_kwh: f64,
    pub cost_eur: f64,
    /// The model the plan was made with.
    pub model_source: ModelSourceOut,
    pub points: Vec<PlanPointOut>,
}

/// A zone's plan, or why it has none.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZonePlanOut {
    pub zone_id: ZoneId,
    /// The zone's strategy (`constant`, `reactive`, `scheduled` or `predictive`).
    pub strategy: String,
    /// Null when there is no plan; `reason` says why.
    pub plan: Option<PlanOut>,
    /// Why there is no plan; null when there is one.
    pub reason: Option<String>,
    /// What the controller assumed where the zone's device has no measurement (its device profile lacks the
    /// point), e.g. `occupancy from the zone's occupancy_schedule`.
    pub assumptions: Vec<String>,
}

/// The predictive controller's current plan for the zone: 24 hours in 15-minute steps. Only the `predictive`
/// strategy plans; for the others, and while a manual hold is in force, `plan` is null and `reason` says why.
#[utoipa::path(
    get, path = "/zones/{id}/plan", tag = "control",
    params(("id" = i64, Path, description = "Zone id")),
    responses(
        (status = 200, description = "The plan, or why there is none", body = ZonePlanOut),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 422, description = "Bad id", body = ErrorBody),
    )
)]
async fn zone_plan(State(state): State<AppState>, Path(id): Path<ZoneId>) -> Result<Json<ZonePlanOut>, ApiError> {
    let ZonePlan { zone_id, strategy, plan, assumptions, demand } = models::zone_plan(&state, id).await?;
    let (plan, reason) = match plan {
        Ok((plan, source, prices)) => (Some(plan_out(&plan, source, &prices, demand.as_ref())), None),
        Err(why) => (None, Some(why)),
    };
    Ok(Json(ZonePlanOut { zone_id, strategy: strategy.as_str().to_string(), plan, reason, assumptions }))
}

/// Start of the clock's 15-minute cap window holding `at` (windows start at the quarter hours, UTC).
fn window_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let width = WINDOW.num_seconds();
    let secs = at.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(width), 0).unwrap_or(at)
}

/// The plan as points, each with the price of its step (and the building cap and planned building power).
fn plan_out(
    plan: &PlanSummary,
    model_source: ModelSource,
    prices: &PriceProfile,
    demand: Option<&PlanDemand>,
) -> PlanOut {
    let step = Duration::seconds(plan.step_s);
    let n = plan.power_w.len();
    // The joint plan's window containing `at` (windows of the clock's quarter hours from `windows_from`).
    let building_w = |d: &PlanDemand, at: DateTime<Utc>| {
        let from = d.windows_from?;
        let i = usize::try_from((at - from).num_seconds().div_euclid(WINDOW.num_seconds())).ok()?;
        d.building_w.get(i).copied()
    };
    let points = plan
        .temp_c
        .iter()
        .enumerate()
        .map(|(k, &temp_c)| {
            let at = plan.made_at + step * i32::try_from(k).unwrap_or(i32::MAX);
            PlanPointOut {
                at,
                temp_c,
                lower_c: k.checked_sub(1).and_then(|i| plan.lower_c.get(i)).copied(),
                upper_c: k.checked_sub(1).and_then(|i| plan.upper_c.get(i)).copied(),
                power_w: plan.power_w.get(k).copied(),
                price_eur_kwh: (k < n).then(|| prices.mean_over(at, step)),
                cap_kw: demand.filter(|_| k < n).map(|d| {
                    let window = window_start(at);
                    d.cap.lowest_w(window, window + WINDOW) / 1000.0
                }),
                building_kw: demand.filter(|_| k < n).and_then(|d| building_w(d, at)).map(|w| w / 1000.0),
            }
        })
        .collect();
    PlanOut {
        made_at: plan.made_at,
        step_s: plan.step_s,
        preheat_start: plan.preheat_start,
        energy_kwh: plan.energy_kwh,
        cost_eur: plan.cost_eur,
        model_source: model_source.into(),
        points,
    }
}

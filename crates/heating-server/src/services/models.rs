//! A zone's thermal model and its predictive plan.
//!
//! - [`zone_model`]: the zone's 1R1C model identified from its own logged readings ([`fit_zone`]), with the fit's
//!   quality. A fit is not free (about a second of CPU on two weeks of 5-second readings), so the latest fit over
//!   the same number of days — the learning job's included — is reused for `crate::learning::FIT_REUSED_FOR` of server time.
//! - [`zone_plan`]: the predictive controller's last plan for the zone, or why there is none.

use chrono::{DateTime, Utc};
use heating_predict::control::PlanSummary;
use heating_predict::model::ModelSource;
use heating_predict::{Identification, PriceProfile, Strategy};

use super::{AppState, ServiceError, require_zone};
use crate::learning::{DEFAULT_DAYS, LearnError, MAX_DAYS, cached_fit, fit_zone};
use crate::storage::ZoneId;
use crate::strategy::zone_strategy;

/// A fit of a zone's model.
#[derive(Debug, Clone)]
pub struct ModelFit {
    pub zone_id: ZoneId,
    /// Days of readings fitted, ending at `fitted_at`.
    pub days: u32,
    /// When the fit was made (server clock).
    pub fitted_at: DateTime<Utc>,
    pub fit: Identification,
    /// What the fit assumed where the device has no measurement (see `fleet::reading::assumptions`).
    pub assumptions: Vec<String>,
}

/// What the zone's device lacks and the server assumes instead; empty without a device.
fn assumptions_of(state: &AppState, id: ZoneId) -> Vec<String> {
    state.fleet.get(id).map(|rt| crate::fleet::reading::assumptions(rt.profile(), &rt.zone())).unwrap_or_default()
}

/// The zone's model fitted over the last `days` days (1 to [`MAX_DAYS`], default [`DEFAULT_DAYS`]).
pub async fn zone_model(state: &AppState, id: ZoneId, days: Option<i64>) -> Result<ModelFit, ServiceError> {
    let days = match days {
        None => DEFAULT_DAYS,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| ServiceError::Invalid(format!("days: {d} is outside 1..={MAX_DAYS}")))?,
    };
    require_zone(state, id).await?;
    let now = state.clock.now();
    let runtime = state.fleet.get(id);
    if let Some((fitted_at, fit)) = runtime.as_ref().and_then(|rt| cached_fit(rt, days, now)) {
        return Ok(ModelFit { zone_id: id, days, fitted_at, fit, assumptions: assumptions_of(state, id) });
    }
    let power = runtime
        .and_then(|rt| rt.live().reading.map(|r| r.snapshot.heater_power_w))
        .filter(|&p| p > 0)
        .ok_or_else(|| {
            ServiceError::Conflict(
                "The heater's rated power is not known yet: the zone has no device, or it has not been polled yet"
                    .into(),
            )
        })?;
    let fit = fit_zone(state, id, f64::from(power), days, now).await.map_err(|e| match e {
        LearnError::Storage(e) => ServiceError::from(e),
        e @ LearnError::Internal(_) => ServiceError::Internal(anyhow::anyhow!(e)),
    })?;
    Ok(ModelFit { zone_id: id, days, fitted_at: now, fit, assumptions: assumptions_of(state, id) })
}

/// A zone's current plan, or why it has none.
#[derive(Debug, Clone)]
pub struct ZonePlan {
    pub zone_id: ZoneId,
    pub strategy: Strategy,
    /// The plan, the kind of model it was made with and the prices it was priced at; or why there is none.
    pub plan: Result<(PlanSummary, ModelSource, PriceProfile), String>,
    /// What the controller assumed where the device has no measurement.
    pub assumptions: Vec<String>,
    /// The building demand cap (`DEMAND_CAP_KW`) and, when this plan was made in the joint plan under it, the
    /// building power that plan has per 15-minute window, W; `None` without a cap.
    pub demand: Option<PlanDemand>,
}

/// The building demand cap as a zone's plan shows it.
#[derive(Debug, Clone)]
pub struct PlanDemand {
    pub cap: heating_predict::cap::DemandCap,
    /// The joint plan's building power per cap window (the clock's 15-minute windows from `windows_from`), W;
    /// empty when the plan was not made jointly (no joint plan at that run, or it failed).
    pub building_w: Vec<f64>,
    /// Start of the joint plan's first cap window (the plan's start without a joint plan).
    pub windows_from: Option<DateTime<Utc>>,
}

/// The predictive controller's current plan for the zone (24 hours in 15-minute steps). Only the `predictive`
/// strategy plans; for the others, and while a manual hold is in force, there is a reason instead.
pub async fn zone_plan(state: &AppState, id: ZoneId) -> Result<ZonePlan, ServiceError> {
    let zone = require_zone(state, id).await?;
    let strategy = zone_strategy(&zone.preferences, state.config.control_strategy());
    let assumptions = assumptions_of(state, id);
    let demand = |made_at: Option<DateTime<Utc>>| {
        let cap = state.demand.cap()?;
        let joint = state.demand.joint();
        let joint = joint.filter(|j| j.error.is_none() && Some(j.made_at) == made_at && !j.zones.is_empty());
        let windows_from = joint.as_ref().map(|j| j.windows_from);
        let building_w = joint.map(|j| j.building_w).unwrap_or_default();
        Some(PlanDemand { cap, building_w, windows_from })
    };
    let answer = |plan: Result<(PlanSummary, ModelSource, PriceProfile), String>| {
        let made_at = plan.as_ref().ok().map(|(p, _, _)| p.made_at);
        Ok(ZonePlan { zone_id: id, strategy, plan, assumptions: assumptions.clone(), demand: demand(made_at) })
    };
    if strategy != Strategy::Predictive {
        return answer(Err(format!(
            "the {strategy} strategy does not plan ahead; the predictive one does (the zone's control_strategy \
             preference, or the server's CONTROL_STRATEGY)"
        )));
    }
    let Some(rt) = state.fleet.get(id) else {
        return answer(Err("the zone has no device to control".into()));
    };
    let (plan, last) = {
        let live = rt.live();
        (live.plan.clone(), live.decision.as_ref().map(|d| d.output.reason.clone()))
    };
    match plan {
        Some((plan, source)) => answer(Ok((plan, source, state.prices.cached_profile()))),
        None => answer(Err(last.map_or_else(|| "no control run yet".to_string(), |r| format!("no plan now: {r}")))),
    }
}

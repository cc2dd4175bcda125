// A zone of GET status in words: its connection health, the target in force and why, its control strategy.
import { fmtShort, fmtWhen } from "./dom.js";

const RULES = {
  manual_hold: "Manual hold",
  schedule: "Timer program",
  occupied: "Occupied comfort",
  unoccupied: "Unoccupied setback",
  skipped: "Control paused",
  constant: "Constant setpoint",
  scheduled: "Occupancy schedule",
  predictive: "Predictive plan",
};
const HEALTH = {
  online: ["Online", "ok"],
  degraded: ["Degraded", "warn"],
  offline: ["Offline", "bad"],
  unknown: ["Waiting", ""],
  no_device: ["No device", ""],
};

export function healthPill(health) {
  const [label, cls] = HEALTH[health.state] || [health.state, ""];
  return { label, cls: `pill ${cls}` };
}

/// The zone's control strategy and, for the predictive one, when its plan starts preheating.
export function planText(z) {
  if (!z.strategy) return "";
  const pre = z.planned_preheat_start ? ` · preheat from ${fmtShort(Date.parse(z.planned_preheat_start))}` : "";
  return `Strategy: ${z.strategy}${pre}`;
}

/// The target in force for a zone, and why.
export function activeTarget(z) {
  if (z.hold) {
    const until = z.hold.until ? `until ${fmtWhen(Date.parse(z.hold.until))}` : "until occupancy changes";
    return { value: z.hold.target_temp, why: `Manual hold ${until}`, reason: `Set ${fmtWhen(Date.parse(z.hold.set_at))} (${z.hold.source})` };
  }
  const a = z.active;
  if (a && a.target_temp !== null && a.target_temp !== undefined) {
    let why = RULES[a.rule] || a.rule;
    if (a.weather_adjustment_k) why += ` · weather ${a.weather_adjustment_k > 0 ? "+" : "−"}${Math.abs(a.weather_adjustment_k).toFixed(1)} K`;
    return { value: a.target_temp, why, reason: a.reason };
  }
  const device = z.reading ? z.reading.target_temp : null;
  if (a) return { value: device, why: RULES.skipped, reason: a.reason };
  if (z.reading) return { value: device, why: "Device setpoint", reason: "Automatic control has not run yet" };
  return { value: null, why: "No reading yet", reason: "" };
}

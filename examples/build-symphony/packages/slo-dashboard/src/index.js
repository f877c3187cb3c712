// @renderx-plugins/slo-dashboard: Shows SLI/SLO/SLA per beat.
import { register as registerHostSdk } from "@renderx-plugins/host-sdk";
import { register as registerSelfHealing } from "@renderx-plugins/self-healing";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function slo_dashboard_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("slo-dashboard.ready", { version: "0.4.2" });
  return { name: "slo-dashboard", slot: "main" };
}

export function slo_dashboard_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-slo-dashboard" });
  el.textContent = props && props.title ? props.title : "SloDashboard";
  return el;
}

export function register(host) {
  host.plugin("slo-dashboard", { init: slo_dashboard_init, render: slo_dashboard_render });
}

// @renderx-plugins/self-healing: Detects and repairs failed sequences.
import { register as registerMusicalConductor } from "@renderx-plugins/musical-conductor";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function self_healing_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("self-healing.ready", { version: "0.3.0" });
  return { name: "self-healing", slot: null };
}

export function self_healing_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-self-healing" });
  el.textContent = props && props.title ? props.title : "SelfHealing";
  return el;
}

export function register(host) {
  host.plugin("self-healing", { init: self_healing_init, render: self_healing_render });
}

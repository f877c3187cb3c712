// @renderx-plugins/real-estate-analyzer: Sample analytics plugin.
import { register as registerHostSdk } from "@renderx-plugins/host-sdk";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function real_estate_analyzer_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("real-estate-analyzer.ready", { version: "0.5.1" });
  return { name: "real-estate-analyzer", slot: "main" };
}

export function real_estate_analyzer_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-real-estate-analyzer" });
  el.textContent = props && props.title ? props.title : "RealEstateAnalyzer";
  return el;
}

export function register(host) {
  host.plugin("real-estate-analyzer", { init: real_estate_analyzer_init, render: real_estate_analyzer_render });
}

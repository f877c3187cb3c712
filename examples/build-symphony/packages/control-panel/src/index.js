// @renderx-plugins/control-panel: Property editor for the selection.
import { register as registerHostSdk } from "@renderx-plugins/host-sdk";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function control_panel_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("control-panel.ready", { version: "2.2.0" });
  return { name: "control-panel", slot: "right" };
}

export function control_panel_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-control-panel" });
  el.textContent = props && props.title ? props.title : "ControlPanel";
  return el;
}

export function register(host) {
  host.plugin("control-panel", { init: control_panel_init, render: control_panel_render });
}

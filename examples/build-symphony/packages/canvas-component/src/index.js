// @renderx-plugins/canvas-component: Components placed on the canvas.
import { register as registerCanvas } from "@renderx-plugins/canvas";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function canvas_component_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("canvas-component.ready", { version: "3.0.1" });
  return { name: "canvas-component", slot: null };
}

export function canvas_component_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-canvas-component" });
  el.textContent = props && props.title ? props.title : "CanvasComponent";
  return el;
}

export function register(host) {
  host.plugin("canvas-component", { init: canvas_component_init, render: canvas_component_render });
}

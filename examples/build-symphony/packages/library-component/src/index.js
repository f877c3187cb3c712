// @renderx-plugins/library-component: Drag source for library items.
import { register as registerLibrary } from "@renderx-plugins/library";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function library_component_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("library-component.ready", { version: "2.0.0" });
  return { name: "library-component", slot: null };
}

export function library_component_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-library-component" });
  el.textContent = props && props.title ? props.title : "LibraryComponent";
  return el;
}

export function register(host) {
  host.plugin("library-component", { init: library_component_init, render: library_component_render });
}

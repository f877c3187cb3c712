// @renderx-plugins/library: Component library browser.
import { register as registerHostSdk } from "@renderx-plugins/host-sdk";
import { register as registerManifestTools } from "@renderx-plugins/manifest-tools";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function library_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("library.ready", { version: "2.0.0" });
  return { name: "library", slot: "left" };
}

export function library_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-library" });
  el.textContent = props && props.title ? props.title : "Library";
  return el;
}

export function register(host) {
  host.plugin("library", { init: library_init, render: library_render });
}

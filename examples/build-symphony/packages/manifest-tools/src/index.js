// @renderx-plugins/manifest-tools: Reads and checks plugin manifests.
import { register as registerComponents } from "@renderx-plugins/components";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function manifest_tools_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("manifest-tools.ready", { version: "0.8.2" });
  return { name: "manifest-tools", slot: null };
}

export function manifest_tools_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-manifest-tools" });
  el.textContent = props && props.title ? props.title : "ManifestTools";
  return el;
}

export function register(host) {
  host.plugin("manifest-tools", { init: manifest_tools_init, render: manifest_tools_render });
}

// @renderx-plugins/header: Application header and menus.
import { register as registerHostSdk } from "@renderx-plugins/host-sdk";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function header_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("header.ready", { version: "1.1.5" });
  return { name: "header", slot: "top" };
}

export function header_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-header" });
  el.textContent = props && props.title ? props.title : "Header";
  return el;
}

export function register(host) {
  host.plugin("header", { init: header_init, render: header_render });
}

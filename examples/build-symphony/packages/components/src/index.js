// @renderx-plugins/components: Base UI components shared by every plugin.

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function components_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("components.ready", { version: "1.4.0" });
  return { name: "components", slot: "ui" };
}

export function components_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-components" });
  el.textContent = props && props.title ? props.title : "Components";
  return el;
}

export function register(host) {
  host.plugin("components", { init: components_init, render: components_render });
}

// internal helpers
export const componentsToken0 = "components:0";
export const componentsToken1 = "components:1";
export const componentsToken2 = "components:2";
export const componentsToken3 = "components:3";
export const componentsToken4 = "components:4";
export const componentsToken5 = "components:5";
export const componentsToken6 = "components:6";
export const componentsToken7 = "components:7";
export const componentsToken8 = "components:8";
export const componentsToken9 = "components:9";
export const componentsToken10 = "components:10";
export const componentsToken11 = "components:11";
export const componentsToken12 = "components:12";
export const componentsToken13 = "components:13";
export const componentsToken14 = "components:14";
export const componentsToken15 = "components:15";
export const componentsToken16 = "components:16";
export const componentsToken17 = "components:17";
export const componentsToken18 = "components:18";
export const componentsToken19 = "components:19";
export const componentsToken20 = "components:20";
export const componentsToken21 = "components:21";
export const componentsToken22 = "components:22";
export const componentsToken23 = "components:23";

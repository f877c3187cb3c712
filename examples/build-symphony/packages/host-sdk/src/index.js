// @renderx-plugins/host-sdk: SDK the host exposes to plugins.
import { register as registerMusicalConductor } from "@renderx-plugins/musical-conductor";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function host_sdk_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("host-sdk.ready", { version: "1.9.0" });
  return { name: "host-sdk", slot: null };
}

export function host_sdk_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-host-sdk" });
  el.textContent = props && props.title ? props.title : "HostSdk";
  return el;
}

export function register(host) {
  host.plugin("host-sdk", { init: host_sdk_init, render: host_sdk_render });
}

// internal helpers
export const hostsdkToken0 = "host-sdk:0";
export const hostsdkToken1 = "host-sdk:1";
export const hostsdkToken2 = "host-sdk:2";
export const hostsdkToken3 = "host-sdk:3";
export const hostsdkToken4 = "host-sdk:4";
export const hostsdkToken5 = "host-sdk:5";
export const hostsdkToken6 = "host-sdk:6";
export const hostsdkToken7 = "host-sdk:7";
export const hostsdkToken8 = "host-sdk:8";
export const hostsdkToken9 = "host-sdk:9";
export const hostsdkToken10 = "host-sdk:10";
export const hostsdkToken11 = "host-sdk:11";
export const hostsdkToken12 = "host-sdk:12";
export const hostsdkToken13 = "host-sdk:13";
export const hostsdkToken14 = "host-sdk:14";
export const hostsdkToken15 = "host-sdk:15";
export const hostsdkToken16 = "host-sdk:16";
export const hostsdkToken17 = "host-sdk:17";
export const hostsdkToken18 = "host-sdk:18";
export const hostsdkToken19 = "host-sdk:19";
export const hostsdkToken20 = "host-sdk:20";
export const hostsdkToken21 = "host-sdk:21";
export const hostsdkToken22 = "host-sdk:22";
export const hostsdkToken23 = "host-sdk:23";

// @renderx-plugins/musical-conductor: Sequence conductor: plays beats in order and publishes events.
import { register as registerComponents } from "@renderx-plugins/components";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function musical_conductor_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("musical-conductor.ready", { version: "2.1.3" });
  return { name: "musical-conductor", slot: null };
}

export function musical_conductor_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-musical-conductor" });
  el.textContent = props && props.title ? props.title : "MusicalConductor";
  return el;
}

export function register(host) {
  host.plugin("musical-conductor", { init: musical_conductor_init, render: musical_conductor_render });
}

// internal helpers
export const musicalconductorToken0 = "musical-conductor:0";
export const musicalconductorToken1 = "musical-conductor:1";
export const musicalconductorToken2 = "musical-conductor:2";
export const musicalconductorToken3 = "musical-conductor:3";
export const musicalconductorToken4 = "musical-conductor:4";
export const musicalconductorToken5 = "musical-conductor:5";
export const musicalconductorToken6 = "musical-conductor:6";
export const musicalconductorToken7 = "musical-conductor:7";
export const musicalconductorToken8 = "musical-conductor:8";
export const musicalconductorToken9 = "musical-conductor:9";
export const musicalconductorToken10 = "musical-conductor:10";
export const musicalconductorToken11 = "musical-conductor:11";
export const musicalconductorToken12 = "musical-conductor:12";
export const musicalconductorToken13 = "musical-conductor:13";
export const musicalconductorToken14 = "musical-conductor:14";
export const musicalconductorToken15 = "musical-conductor:15";
export const musicalconductorToken16 = "musical-conductor:16";
export const musicalconductorToken17 = "musical-conductor:17";
export const musicalconductorToken18 = "musical-conductor:18";
export const musicalconductorToken19 = "musical-conductor:19";
export const musicalconductorToken20 = "musical-conductor:20";
export const musicalconductorToken21 = "musical-conductor:21";
export const musicalconductorToken22 = "musical-conductor:22";
export const musicalconductorToken23 = "musical-conductor:23";

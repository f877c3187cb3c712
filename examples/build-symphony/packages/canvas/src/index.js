// @renderx-plugins/canvas: Drawing surface.
import { register as registerHostSdk } from "@renderx-plugins/host-sdk";

// Handlers are looked up by name from the sequence files (see orchestration/sequences).
export function canvas_init(ctx) {
  // publish readiness so dependent plugins can start
  ctx.publish("canvas.ready", { version: "3.0.1" });
  return { name: "canvas", slot: "main" };
}

export function canvas_render(ctx, props) {
  const el = ctx.create("div", { class: "rx-canvas" });
  el.textContent = props && props.title ? props.title : "Canvas";
  return el;
}

export function register(host) {
  host.plugin("canvas", { init: canvas_init, render: canvas_render });
}

// internal helpers
export const canvasToken0 = "canvas:0";
export const canvasToken1 = "canvas:1";
export const canvasToken2 = "canvas:2";
export const canvasToken3 = "canvas:3";
export const canvasToken4 = "canvas:4";
export const canvasToken5 = "canvas:5";
export const canvasToken6 = "canvas:6";
export const canvasToken7 = "canvas:7";
export const canvasToken8 = "canvas:8";
export const canvasToken9 = "canvas:9";
export const canvasToken10 = "canvas:10";
export const canvasToken11 = "canvas:11";
export const canvasToken12 = "canvas:12";
export const canvasToken13 = "canvas:13";
export const canvasToken14 = "canvas:14";
export const canvasToken15 = "canvas:15";
export const canvasToken16 = "canvas:16";
export const canvasToken17 = "canvas:17";
export const canvasToken18 = "canvas:18";
export const canvasToken19 = "canvas:19";
export const canvasToken20 = "canvas:20";
export const canvasToken21 = "canvas:21";
export const canvasToken22 = "canvas:22";
export const canvasToken23 = "canvas:23";

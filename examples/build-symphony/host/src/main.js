// RenderX host entry: registers every plugin, then starts the conductor.
const plugins = [];

export function plugin(name, handlers) {
  plugins.push({ name, handlers });
}

export function start(ctx) {
  // init in registration order; the conductor publishes each plugin's ready event
  for (const p of plugins) {
    p.handlers.init(ctx);
  }
  return plugins.length;
}

"""Payment handlers."""
from _telemetry import instrumented


def charge_payment(ctx, payload):
    ctx["charged"] = ctx.get("total", 0)
    return ctx

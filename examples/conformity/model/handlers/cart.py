"""Cart handlers."""
from _telemetry import instrumented


@instrumented
def add_item(ctx, payload):
    ctx.setdefault("items", []).append(payload)
    return ctx


def recalc_total(ctx, payload):
    ctx["total"] = sum(i["price"] * i["qty"] for i in ctx.get("items", []))
    return ctx

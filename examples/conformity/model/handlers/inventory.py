"""Inventory handlers."""
from _telemetry import instrumented


@instrumented
def reserve_stock(ctx, payload):
    ctx.setdefault("reserved", []).extend(i["sku"] for i in ctx.get("items", []))
    return ctx


@instrumented
def release_stock(ctx, payload):
    ctx["reserved"] = []
    return ctx

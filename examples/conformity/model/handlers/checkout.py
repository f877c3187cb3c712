"""Checkout handlers."""
from _telemetry import instrumented


@instrumented
def validate_cart(ctx, payload):
    if not ctx.get("items"):
        raise ValueError("empty cart")
    return ctx


def send_receipt(payload):
    return {"receipt": payload.get("order_id")}

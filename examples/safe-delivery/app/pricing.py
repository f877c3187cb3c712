"""cart-pricing: the small service this delivery pipeline ships.

Every new behaviour sits behind a feature toggle (the SAFe "deployment requires
feature toggles" policy): with all toggles off, prices are exactly as before.
"""
from decimal import ROUND_HALF_UP, Decimal

VERSION = "1.4.0"
TOGGLES = ("bulk-discount", "loyalty-points", "free-shipping")

BULK_UNITS = 10
BULK_RATE = Decimal("0.10")
FREE_SHIPPING_FROM = Decimal("50.00")
SHIPPING = Decimal("4.95")
CENT = Decimal("0.01")


def price(items, member=False, toggles=None):
    """Price a cart.

    items: list of (sku, unit_price as str, quantity); toggles: set of enabled toggle names.
    Returns subtotal, shipping, total (as strings with 2 decimals) and loyalty points.
    """
    toggles = set(toggles or ())
    unknown = toggles - set(TOGGLES)
    if unknown:
        raise ValueError(f"unknown toggles: {sorted(unknown)}")
    subtotal = Decimal("0")
    for sku, unit, qty in items:
        if qty <= 0:
            raise ValueError(f"{sku}: quantity must be positive")
        line = Decimal(unit) * qty
        if "bulk-discount" in toggles and qty >= BULK_UNITS:
            line -= line * BULK_RATE
        subtotal += line
    subtotal = subtotal.quantize(CENT, rounding=ROUND_HALF_UP)
    shipping = SHIPPING
    if "free-shipping" in toggles and subtotal >= FREE_SHIPPING_FROM:
        shipping = Decimal("0.00")
    if not items:
        shipping = Decimal("0.00")
    points = int(subtotal) if member and "loyalty-points" in toggles else 0
    return {
        "subtotal": str(subtotal),
        "shipping": str(shipping),
        "total": str(subtotal + shipping),
        "points": points,
    }

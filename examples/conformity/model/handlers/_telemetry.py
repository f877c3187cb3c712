"""Telemetry decorator every handler must carry (TELEMETRY_NOT_INSTRUMENTED otherwise)."""
import functools
import time

EVENTS = []


def instrumented(fn):
    @functools.wraps(fn)
    def wrapper(ctx, payload):
        t0 = time.perf_counter()
        try:
            return fn(ctx, payload)
        finally:
            EVENTS.append((fn.__name__, time.perf_counter() - t0))

    wrapper.__instrumented__ = True
    return wrapper

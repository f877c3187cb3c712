#!/usr/bin/env python3
"""Simulated production traffic against the deployed cart-pricing.

usage: traffic.py smoke|monitor|stabilize
  smoke      production smoke tests: deployed version, toggles off = old prices
  monitor    3000 requests with the live toggles: error rate and latency
  stabilize  3000 requests for the released cohort; fails if the error budget is spent
Writes build/monitoring/<mode>.json; metrics go to $BATON_OUTPUT. Latency is only
reported, never judged, so a slow machine cannot fail the run.
"""
import json
import os
import random
import sys
import time

sys.dont_write_bytecode = True
ENV = "build/env/production"
sys.path.insert(0, os.path.join(ENV, "current"))
import pricing  # noqa: E402

ERROR_BUDGET = 0.01


def emit(**metrics):
    with open(os.environ.get("BATON_OUTPUT", os.devnull), "a") as out:
        for k, v in metrics.items():
            out.write(f"{k}={v}\n")


def save(name, data):
    os.makedirs("build/monitoring", exist_ok=True)
    with open(f"build/monitoring/{name}.json", "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def live_toggles():
    with open(os.path.join(ENV, "toggles.json")) as f:
        return json.load(f)["features"]


def smoke():
    with open("app/pricing.py") as f:
        expected = next(l.split('"')[1] for l in f if l.startswith("VERSION"))
    assert pricing.VERSION == expected, f"production runs {pricing.VERSION}, expected {expected}"
    assert not any(t["enabled"] for t in live_toggles()), "dark launch: toggles must be off"
    checks = {
        "version": pricing.VERSION,
        "regression_cart": pricing.price([("tea", "2.00", 10)], member=True),
    }
    assert checks["regression_cart"]["total"] == "24.95", checks
    save("smoke", checks)
    print(f"production smoke tests passed on {pricing.VERSION}")


def traffic(mode, cohort_only):
    rng = random.Random(42)
    toggles = live_toggles()
    errors, latencies, n = 0, [], 3000
    for _ in range(n):
        on = {t["toggle"] for t in toggles if t["enabled"] and rng.uniform(0, 100) < t["cohort_percent"]}
        if cohort_only and not on:
            on = {t["toggle"] for t in toggles if t["enabled"]}
        cart = [(f"sku{rng.randint(1, 50)}", f"{rng.randint(50, 4000) / 100:.2f}", rng.randint(1, 14))
                for _ in range(rng.randint(1, 5))]
        t0 = time.perf_counter()
        try:
            out = pricing.price(cart, member=rng.random() < 0.4, toggles=on)
            if float(out["total"]) != round(float(out["subtotal"]) + float(out["shipping"]), 2):
                errors += 1
        except Exception:
            errors += 1
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    p50, p95 = latencies[n // 2] * 1e6, latencies[int(n * 0.95)] * 1e6
    rate = errors / n
    save(mode, {"requests": n, "errors": errors, "error_rate": rate, "p50_us": round(p50, 1), "p95_us": round(p95, 1)})
    emit(**{"metric.requests": n, "metric.error_rate": rate, "metric.p95_us": round(p95, 1)})
    print(f"{mode}: {n} requests, error rate {rate:.2%}, p50 {p50:.0f}us, p95 {p95:.0f}us")
    if rate > ERROR_BUDGET:
        sys.exit(f"error budget spent: {rate:.2%} > {ERROR_BUDGET:.0%}")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) == 2 else ""
    if mode == "smoke":
        smoke()
    elif mode in ("monitor", "stabilize"):
        traffic(mode, cohort_only=mode == "stabilize")
    else:
        sys.exit(__doc__)

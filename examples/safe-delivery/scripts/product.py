#!/usr/bin/env python3
"""Product work of the SAFe pipeline: exploration and learning beats.

usage: product.py hypothesize|research|architect|roadmap|stories|impact|feedback|lessons|plan
All results go under build/ (JSON, Markdown, Gherkin). Deterministic: the
simulated usage data comes from a seeded random generator.
"""
import csv
import json
import os
import random
import re
import sys

sys.dont_write_bytecode = True  # importing app/ must not leave __pycache__ in the sources
BUILD = "build"


def load(path):
    with open(path) as f:
        return json.load(f)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        if isinstance(data, str):
            f.write(data)
        else:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")


def emit(**metrics):
    with open(os.environ.get("BATON_OUTPUT", os.devnull), "a") as out:
        for k, v in metrics.items():
            out.write(f"{k}={v}\n")


def features():
    return load("product/backlog.json")["features"]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def wsjf(f):
    """Weighted shortest job first: cost of delay / job size."""
    return round((f["business_value"] + f["time_criticality"] + f["risk_reduction"]) / f["job_size"], 2)


def hypothesize():
    out = []
    for f in features():
        for key in ("hypothesis", "metric", "target_uplift", "toggle", "scenarios"):
            if not f.get(key):
                sys.exit(f"{f['id']}: an MVP needs a '{key}'")
        out.append({"id": f["id"], "title": f["title"], "hypothesis": f["hypothesis"],
                    "metric": f["metric"], "target_uplift": f["target_uplift"], "wsjf": wsjf(f)})
    write(f"{BUILD}/exploration/mvp.json", {"mvps": out})
    print(f"{len(out)} MVPs with measurable hypotheses")


def research():
    mvps = {m["id"] for m in load(f"{BUILD}/exploration/mvp.json")["mvps"]}
    by = {}
    for r in rows("product/research/interviews.csv"):
        by.setdefault(r["feature"], []).append(int(r["rating"]))
    summary = {}
    for fid in sorted(mvps):
        ratings = by.get(fid, [])
        if len(ratings) < 2:  # governance: customers must be involved in validation
            sys.exit(f"{fid}: only {len(ratings)} customer touchpoints, need 2")
        summary[fid] = {"touchpoints": len(ratings), "avg_rating": round(sum(ratings) / len(ratings), 2)}
    write(f"{BUILD}/exploration/research.json", summary)
    emit(**{"metric.customer_touchpoints": sum(v["touchpoints"] for v in summary.values())})
    print("customer validation: " + ", ".join(f"{k} {v['avg_rating']}/5 ({v['touchpoints']})" for k, v in summary.items()))


def architect():
    sys.path.insert(0, "app")
    import pricing  # noqa: E402  (read-only: checks the design, runs nothing)
    checks = {}
    for f in features():
        checks[f["id"]] = {
            "toggle_exists": f["toggle"] in pricing.TOGGLES,   # releasability: dark launch possible
            "testable": len(f["scenarios"]) >= 2,              # testability: BDD scenarios
        }
        if not all(checks[f["id"]].values()):
            sys.exit(f"{f['id']}: not designed for delivery: {checks[f['id']]}")
    write(f"{BUILD}/exploration/architecture.json", {"service": "cart-pricing", "version": pricing.VERSION,
                                                     "toggles": list(pricing.TOGGLES), "checks": checks})
    print(f"architecture ready for delivery: {len(checks)} features toggleable and testable")


def roadmap():
    mvps = load(f"{BUILD}/exploration/mvp.json")["mvps"]
    research_ = load(f"{BUILD}/exploration/research.json")
    ranked = sorted(mvps, key=lambda m: (-m["wsjf"], -research_[m["id"]]["avg_rating"]))
    lines = ["# Vision: cart-pricing", "", "Price carts so that customers buy more and come back.", "",
             "| rank | feature | WSJF | customer rating |", "| --- | --- | --- | --- |"]
    for i, m in enumerate(ranked, 1):
        lines.append(f"| {i} | {m['id']} {m['title']} | {m['wsjf']} | {research_[m['id']]['avg_rating']} |")
    write(f"{BUILD}/exploration/roadmap.md", "\n".join(lines) + "\n")
    write(f"{BUILD}/exploration/roadmap.json", {"order": [m["id"] for m in ranked]})
    print("roadmap: " + " > ".join(m["id"] for m in ranked))


def stories():
    n = 0
    for f in features():
        slug = re.sub(r"[^a-z0-9]+", "-", f["title"].lower()).strip("-")
        text = [f"Feature: {f['title']} ({f['id']})", f"  {f['hypothesis']}", ""]
        for s in f["scenarios"]:
            n += 1
            text += [f"  Scenario: {s['given']}", f"    Given {s['given']}", f"    When {s['when']}",
                     f"    Then {s['then']}", ""]
        write(f"{BUILD}/stories/{f['id']}-{slug}.feature", "\n".join(text))
    emit(**{"metric.stories": n})
    print(f"{n} BDD stories for {len(features())} features")


def impact():
    toggles = load(f"{BUILD}/env/production/toggles.json")
    rng = random.Random(20251126)
    result = {}
    for m in load(f"{BUILD}/exploration/mvp.json")["mvps"]:
        fid = m["id"]
        cohort = next(t for t in toggles["features"] if t["id"] == fid)["cohort_percent"] / 100
        control = [rng.gauss(1.0, 0.05) for _ in range(2000)]
        treated = [rng.gauss(1.0 + m["target_uplift"] * rng.uniform(0.6, 1.4), 0.05) for _ in range(int(2000 * cohort))]
        uplift = sum(treated) / len(treated) / (sum(control) / len(control)) - 1
        result[fid] = {"metric": m["metric"], "target": m["target_uplift"], "measured": round(uplift, 4),
                       "validated": uplift >= m["target_uplift"], "samples": len(treated)}
    write(f"{BUILD}/release/impact.json", result)
    ok = sum(r["validated"] for r in result.values())
    emit(**{"metric.hypotheses_validated": ok, "metric.hypotheses_total": len(result)})
    for fid, r in result.items():
        print(f"{fid} {r['metric']}: {r['measured']:+.2%} vs target {r['target']:+.0%} "
              f"-> {'validated' if r['validated'] else 'not yet'}")


def feedback():
    by = {}
    for r in rows("product/research/feedback.csv"):
        by.setdefault(r["feature"], {"positive": 0, "neutral": 0, "negative": 0})[r["sentiment"]] += 1
    nps = {f: round((v["positive"] - v["negative"]) / sum(v.values()), 2) for f, v in by.items()}
    write(f"{BUILD}/release/feedback.json", {"sentiment": by, "net_score": nps})
    print("net feedback: " + ", ".join(f"{k} {v:+.2f}" for k, v in sorted(nps.items())))


def lessons():
    imp = load(f"{BUILD}/release/impact.json")
    fb = load(f"{BUILD}/release/feedback.json")["net_score"]
    lines = ["# Lessons learned", ""]
    for fid, r in imp.items():
        verdict = "hypothesis validated" if r["validated"] else "hypothesis not validated yet"
        lines.append(f"- {fid}: {r['metric']} {r['measured']:+.2%} (target {r['target']:+.0%}), {verdict}; "
                     f"feedback {fb.get(fid, 0):+.2f}")
    write(f"{BUILD}/release/LESSONS.md", "\n".join(lines) + "\n")
    print(f"documented lessons for {len(imp)} features")


def plan():
    imp = load(f"{BUILD}/release/impact.json")
    fb = load(f"{BUILD}/release/feedback.json")["net_score"]
    order = load(f"{BUILD}/exploration/roadmap.json")["order"]
    # validated features move to full rollout; the rest stay in the next iteration's backlog
    nxt = sorted(order, key=lambda f: (imp[f]["validated"], -fb.get(f, 0)))
    write(f"{BUILD}/release/next-iteration.json", {
        "rollout_to_100": [f for f in order if imp[f]["validated"]],
        "iterate": [f for f in nxt if not imp[f]["validated"]],
        "input_to": "continuous-exploration",
    })
    print("next iteration: roll out " + (", ".join(f for f in order if imp[f]["validated"]) or "nothing")
          + "; iterate on " + (", ".join(f for f in nxt if not imp[f]["validated"]) or "nothing"))


if __name__ == "__main__":
    cmds = {f.__name__: f for f in (hypothesize, research, architect, roadmap, stories, impact, feedback, lessons, plan)}
    if len(sys.argv) != 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]]()

#!/usr/bin/env python3
"""Movement 6 (verification & conformity).

usage: verification.py lint|enrich|docs|conformity|report
  lint        style checks on package and host sources     -> build/lint/lint.json
  enrich      domain authorities + built package versions   -> build/governance/domain-authorities.json
  docs        governance documentation (Markdown)          -> build/governance/docs/
  conformity  the 5 conformity dimensions, scored 0..1      -> reports/conformity-dimensions.xml (JUnit)
  report      the comprehensive build report               -> build/report/build-report.{json,md}
Metrics a beat alone knows go to $BATON_OUTPUT as key=value lines.
"""
import glob
import json
import os
import re
import sys
from xml.sax.saxutils import escape, quoteattr

PASS_SCORE = 0.75  # "Acceptable" or better on the seed's 0..1 scale


def load(path, default=None):
    if default is not None and not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def emit(**metrics):
    with open(os.environ.get("BATON_OUTPUT", os.devnull), "a") as out:
        for k, v in metrics.items():
            out.write(f"{k}={v}\n")


def lint():
    findings = []
    files = sorted(glob.glob("packages/*/src/*.js") + glob.glob("host/src/*.js"))
    for path in files:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if line != line.rstrip():
                    findings.append((path, n, "warning", "trailing whitespace"))
                if "\t" in line:
                    findings.append((path, n, "warning", "tab character"))
                if len(line) > 120:
                    findings.append((path, n, "warning", f"line longer than 120 ({len(line)})"))
                if "console.log" in line:
                    findings.append((path, n, "error", "console.log left in source"))
    errors = sum(1 for f in findings if f[2] == "error")
    warnings = len(findings) - errors
    write_json("build/lint/lint.json", {"files": len(files), "errors": errors, "warnings": warnings,
                                        "findings": [dict(zip(("file", "line", "severity", "message"), f))
                                                     for f in findings]})
    for path, n, sev, msg in findings:
        print(f"{path}:{n}: {sev}: {msg}")
    emit(**{"metric.lint_files": len(files), "metric.lint_warnings": warnings, "errors": errors})
    print(f"lint: {len(files)} files, {errors} errors, {warnings} warnings")
    sys.exit(1 if errors else 0)


def enrich():
    components = load("build/manifests/component.json")["entries"]
    out = {}
    for d in sorted(map(load, glob.glob("orchestration/domains/*.json")), key=lambda d: d["id"]):
        out[d["id"]] = {
            "authority": d["authority"],
            "depends_on": d["depends_on"],
            "packages": {p: components[p]["version"] for p in d["packages"]},
            "handlers": sorted(h for p in d["packages"] for h in components[p]["handlers"]),
            "sequences": d["sequences"],
        }
    write_json("build/governance/domain-authorities.json", out)
    print(f"enriched {len(out)} domains with authorities, versions and handlers")


def docs():
    rules = load("orchestration/governance/rules.json")["policies"]
    auth = load("build/governance/domain-authorities.json")
    os.makedirs("build/governance/docs", exist_ok=True)
    with open("build/governance/docs/README.md", "w") as f:
        f.write("# Governance\n\n| policy | severity | rule |\n| --- | --- | --- |\n")
        for r in rules:
            f.write(f"| {r['id']} | {r['severity']} | {r['text']} |\n")
        f.write("\n## Domains\n\n")
        for d, a in auth.items():
            f.write(f"- [{d}]({d}.md): {a['authority']}, {len(a['packages'])} packages\n")
    for d, a in auth.items():
        with open(f"build/governance/docs/{d}.md", "w") as f:
            f.write(f"# Domain `{d}`\n\nAuthority: {a['authority']}\n\n")
            f.write("Depends on: " + (", ".join(a["depends_on"]) or "nothing") + "\n\n## Packages\n\n")
            for p, v in a["packages"].items():
                f.write(f"- @renderx-plugins/{p} {v}\n")
            f.write("\n## Handlers\n\n" + "".join(f"- `{h}`\n" for h in a["handlers"]))
    print(f"wrote governance docs: 1 index + {len(auth)} domain pages")


def version_ok(constraint, actual):
    want = [int(x) for x in constraint.lstrip("^~").split(".")]
    have = [int(x) for x in actual.split(".")]
    return have[0] == want[0] and have >= want


def conformity():
    domains = {d["id"]: d for d in map(load, glob.glob("orchestration/domains/*.json"))}
    sequences = {s["id"]: s for s in map(load, glob.glob("build/sources/*.json"))}
    rules = [r["id"] for r in load("orchestration/governance/rules.json")["policies"]]
    agents = list(map(load, glob.glob("orchestration/agents/*.json")))
    built = {os.path.basename(os.path.dirname(p)): load(p) for p in glob.glob("build/packages/*/package.json")}
    bundles = "".join(open(p).read() for p in glob.glob("build/packages/*/dist/index.js"))
    with open("dist/SHA256SUMS") as f:
        hashed = {line.split(None, 1)[1].strip() for line in f}

    def ratio(ok, total):
        return round(ok / total, 3) if total else 1.0

    refs = [(d, s) for d in domains.values() for s in d["sequences"]]
    handlers = [b["handler"] for s in sequences.values() for b in s["beats"]]
    referenced = {p for a in agents for p in a["policies"]}
    traced = [p for p, m in built.items() if f"packages/{p}-{m['version']}.tgz" in hashed]
    deps = [(c, v, built.get(d.split("/", 1)[1])) for m in built.values() for d, c in m["dependencies"].items()
            for v in [m["name"]]]
    dims = {
        "orchestration": (ratio(sum(s in sequences and sequences[s]["domain"] in domains for _, s in refs), len(refs)),
                          f"{len(refs)} domain->sequence references"),
        "handler": (ratio(sum(bool(re.search(rf"export function {h}\(", bundles)) for h in handlers), len(handlers)),
                    f"{len(handlers)} sequence handlers implemented in built packages"),
        "governance": (ratio(sum(r in referenced for r in rules), len(rules)),
                       f"{len(rules)} policies, {len(referenced & set(rules))} referenced by an agent"),
        "traceability": (ratio(len(traced), len(built)), f"{len(built)} built packages traced to dist/SHA256SUMS"),
        "dependency": (ratio(sum(b is not None and version_ok(c, b["version"]) for c, _, b in deps), len(deps)),
                       f"{len(deps)} dependency constraints"),
    }
    os.makedirs("reports", exist_ok=True)
    cases, failures = [], 0
    for name, (score, detail) in dims.items():
        ok = score >= PASS_SCORE
        failures += not ok
        body = "" if ok else f"<failure message={quoteattr(f'score {score} < {PASS_SCORE}')}/>"
        cases.append(f'    <testcase classname="conformity" name="{name}" time="0">'
                     f'<system-out>{escape(f"score={score} ({detail})")}</system-out>{body}</testcase>')
        print(f"{name:14} {score:.3f}  {'pass' if ok else 'FAIL'}  {detail}")
    with open("reports/conformity-dimensions.xml", "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        f.write(f'  <testsuite name="conformity-dimensions" tests="{len(cases)}" failures="{failures}" errors="0">\n')
        f.write("\n".join(cases) + "\n  </testsuite>\n</testsuites>\n")
    write_json("build/conformity/scores.json", {k: v[0] for k, v in dims.items()})
    emit(**{f"metric.conformity_{k}": v[0] for k, v in dims.items()})
    sys.exit(1 if failures else 0)


def report():
    ctx = load("build/context/context.json")
    plan = load("build/package-plan.json")
    art = load("dist/artifact-manifest.json")
    scores = load("build/conformity/scores.json")
    lint_res = load("build/lint/lint.json", {"errors": 0, "warnings": 0, "files": 0})
    manifests = {os.path.basename(p)[:-5]: len(load(p)["entries"]) for p in sorted(glob.glob("build/manifests/*.json"))}
    pkgs = {a["path"].split("/")[-1]: a["bytes"] for a in art["artifacts"] if a["path"].startswith("packages/")}
    host = sum(a["bytes"] for a in art["artifacts"] if a["path"].startswith("host/"))
    rep = {
        "pipeline": ctx["pipeline"], "run_id": os.environ.get("BATON_RUN_ID") or ctx["run_id"],
        "git_commit": ctx["git_commit"], "packages": plan["packages"], "build_waves": plan["waves"],
        "manifests": manifests, "package_archives": pkgs, "host_bytes": host,
        "artifacts": art["count"], "artifact_bytes": art["bytes"], "lint": {k: lint_res[k] for k in ("files", "errors", "warnings")},
        "conformity": scores, "conformity_overall": round(sum(scores.values()) / len(scores), 3),
        "governance_docs": os.path.isdir("build/governance/docs"),
    }
    write_json("build/report/build-report.json", rep)
    with open("build/report/build-report.md", "w") as f:
        f.write(f"# Build report: {rep['pipeline']}\n\nrun `{rep['run_id']}`, commit `{rep['git_commit']}`\n\n")
        f.write(f"- packages: {rep['packages']} in {len(plan['waves'])} waves\n")
        f.write(f"- manifests: {', '.join(f'{k} ({v})' for k, v in manifests.items())}\n")
        f.write(f"- artifacts: {art['count']} files, {art['bytes']} bytes (host bundle {host} bytes)\n")
        f.write(f"- lint: {lint_res['errors']} errors, {lint_res['warnings']} warnings\n\n")
        f.write("| conformity dimension | score |\n| --- | --- |\n")
        for k, v in scores.items():
            f.write(f"| {k} | {v:.3f} |\n")
    emit(**{"metric.packages_built": plan["packages"], "metric.conformity_overall": rep["conformity_overall"]})
    print(f"build report: {rep['packages']} packages, {art['count']} artifacts, "
          f"conformity {rep['conformity_overall']:.3f}")


if __name__ == "__main__":
    cmds = {"lint": lint, "enrich": enrich, "docs": docs, "conformity": conformity, "report": report}
    if len(sys.argv) != 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]]()

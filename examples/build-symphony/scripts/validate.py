#!/usr/bin/env python3
"""Movement 1 (validation): context, domains, governance rules, agent behaviour.

usage: validate.py context|domains|governance|agents
Each check writes build/<area>/<check>.json and exits non-zero on a violation.
"""
import glob
import json
import os
import platform
import subprocess
import sys
import time


def load(path):
    with open(path) as f:
        return json.load(f)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def fail(msg):
    print(f"violation: {msg}", file=sys.stderr)
    sys.exit(1)


def git(*args):
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def context():
    packages = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob("packages/*/package.json"))
    ctx = {
        "pipeline": "build-pipeline-symphony",
        "run_id": os.environ.get("BATON_RUN_ID"),
        "host": platform.node(),
        "python": platform.python_version(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "packages": packages,
        "domains": len(glob.glob("orchestration/domains/*.json")),
        "sequences": len(glob.glob("orchestration/sequences/*.json")),
        "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if not packages:
        fail("no packages found under packages/")
    write("build/context/context.json", ctx)
    print(f"context: {len(packages)} packages, {ctx['domains']} domains, {ctx['sequences']} sequences, "
          f"commit {ctx['git_commit'] or 'n/a'}")


def domains():
    doms = {d["id"]: d for d in map(load, sorted(glob.glob("orchestration/domains/*.json")))}
    seqs = {os.path.basename(p)[:-5] for p in glob.glob("orchestration/sequences/*.json")}
    pkgs = {os.path.basename(os.path.dirname(p)) for p in glob.glob("packages/*/package.json")}
    owned = {}
    for d in doms.values():
        for key in ("id", "name", "authority", "depends_on", "packages", "sequences"):
            if key not in d:
                fail(f"domain {d.get('id')}: missing '{key}'")
        for dep in d["depends_on"]:
            if dep not in doms:
                fail(f"domain {d['id']}: ORPHANED_DOMAIN_REFERENCE {dep}")
        for s in d["sequences"]:
            if s not in seqs:
                fail(f"domain {d['id']}: unknown sequence {s}")
        for p in d["packages"]:
            if p not in pkgs:
                fail(f"domain {d['id']}: DOMAIN_NOT_FOUND package {p}")
            if p in owned:
                fail(f"package {p} owned by both {owned[p]} and {d['id']}")
            owned[p] = d["id"]
    # CIRCULAR_DEPENDENCY: depth-first search over depends_on
    state = {}

    def visit(n, path):
        if state.get(n) == 1:
            fail("CIRCULAR_DEPENDENCY " + " -> ".join(path + [n]))
        if state.get(n) == 2:
            return
        state[n] = 1
        for m in doms[n]["depends_on"]:
            visit(m, path + [n])
        state[n] = 2

    for n in doms:
        visit(n, [])
    unowned = sorted(pkgs - set(owned))
    if unowned:
        fail(f"packages without a domain: {unowned}")
    write("build/validation/domains.json", {"domains": len(doms), "packages_owned": len(owned), "violations": 0})
    print(f"{len(doms)} domains valid, {len(owned)} packages owned, no cycles")


def governance():
    rules = load("orchestration/governance/rules.json")["policies"]
    ids = [r["id"] for r in rules]
    if len(ids) != len(set(ids)):
        fail("duplicate policy id")
    for r in rules:
        if r.get("severity") not in {"critical", "major", "minor", "info"}:
            fail(f"{r['id']}: bad severity {r.get('severity')}")
        if not r.get("text"):
            fail(f"{r['id']}: empty text")
    by = {}
    for r in rules:
        by[r["severity"]] = by.get(r["severity"], 0) + 1
    write("build/validation/governance.json", {"policies": len(rules), "by_severity": by, "violations": 0})
    print(f"{len(rules)} governance policies valid: {by}")


def agents():
    known = {r["id"] for r in load("orchestration/governance/rules.json")["policies"]}
    actions = {"read", "build", "write-artifacts", "report"}
    checked = 0
    for path in sorted(glob.glob("orchestration/agents/*.json")):
        a = load(path)
        bad = set(a["allowed_actions"]) - actions
        if bad:
            fail(f"agent {a['id']}: UNAUTHORIZED_CHANGE actions {sorted(bad)}")
        for p in a["policies"]:
            if p not in known:
                fail(f"agent {a['id']}: POLICY_NOT_REFERENCED {p}")
        for fp in a["forbidden_paths"]:
            if not os.path.exists(fp):
                fail(f"agent {a['id']}: forbidden path {fp} does not exist")
        checked += 1
    write("build/validation/agents.json", {"agents": checked, "violations": 0})
    print(f"{checked} agents behave within policy")


if __name__ == "__main__":
    cmds = {"context": context, "domains": domains, "governance": governance, "agents": agents}
    if len(sys.argv) != 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]]()

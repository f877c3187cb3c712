#!/usr/bin/env python3
"""Symphonia conformity alignment: detect and fix orchestration violations.

usage: conformity.py COMMAND [PHASE]
  snapshot N        phase N pre-fix snapshot of the workspace (phase 1 first copies model/ to it)
  restore N         put the workspace back as it was in snapshot N (a fix beat's rollback)
  scan WHAT         inventory files: orchestration | sequences | handlers | specs
  analyze WHAT      find violations: domains | sequences | handlers
  fix WHAT          remediate:       domains | orchestration | sequences | handlers
  validate WHAT     re-check after fixing: manifest | sequences | handlers
  report N          phase N report; fails when the phase's completion criteria are not met

model/ is never modified: phase 1 copies it to build/workspace/ and every fix
applies there, so each run finds and fixes the same violations. Findings, fixes
and reports are JSON under build/.
"""
import ast
import difflib
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

WS = "build/workspace"
OUT = "build/conformity"


# ---------- helpers ----------------------------------------------------------

def load(path, default=None):
    if default is not None and not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def save(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def emit(**metrics):
    with open(os.environ.get("BATON_OUTPUT", os.devnull), "a") as out:
        for k, v in metrics.items():
            out.write(f"{k}={v}\n")


def ws(*parts):
    return os.path.join(WS, *parts)


def domains():
    return {d["id"]: d for d in map(load, sorted(glob.glob(ws("domains", "*.json"))))}


def sequences():
    return {s["id"]: s for s in map(load, sorted(glob.glob(ws("sequences", "*.json"))))}


def handler_defs():
    """name -> (module file, argument names, decorated with @instrumented)"""
    out = {}
    for path in sorted(glob.glob(ws("handlers", "*.py"))):
        if os.path.basename(path).startswith("_"):
            continue
        tree = ast.parse(open(path).read(), path)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                deco = any(isinstance(d, ast.Name) and d.id == "instrumented" for d in node.decorator_list)
                out[node.name] = (path, [a.arg for a in node.args.args], deco)
    return out


def spec_tags():
    tags = {}
    for path in sorted(glob.glob(ws("specs", "*.feature"))):
        for line in open(path):
            m = re.match(r"\s*@handler:(\w+)", line)
            if m:
                tags[m.group(1)] = path
    return tags


def referenced_handlers():
    return sorted({b["handler"] for s in sequences().values() for b in s["beats"]})


def v(code, where, detail, severity="MAJOR"):
    return {"code": code, "where": where, "detail": detail, "severity": severity}


def score(violations, checks):
    return round(1 - len(violations) / checks, 3) if checks else 1.0


# ---------- snapshots --------------------------------------------------------

def snapshot(phase):
    if phase == "1":
        shutil.rmtree("build", ignore_errors=True)
        shutil.copytree("model", WS, ignore=shutil.ignore_patterns("__pycache__"))
    os.makedirs("build/snapshots", exist_ok=True)
    archive = f"build/snapshots/phase-{phase}.tar.gz"
    subprocess.run(f"tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --exclude=__pycache__ "
                   f"-C {WS} -cf - . | gzip -n > {archive}", shell=True, check=True)
    digest = hashlib.sha256(open(archive, "rb").read()).hexdigest()
    with open(archive + ".sha256", "w") as f:
        f.write(f"{digest}  {os.path.basename(archive)}\n")
    files = sum(len(fs) for _, _, fs in os.walk(WS))
    print(f"phase {phase} snapshot: {files} files, sha256 {digest[:12]}")


def restore(phase):
    archive = f"build/snapshots/phase-{phase}.tar.gz"
    subprocess.run(["sha256sum", "--check", "--quiet", os.path.basename(archive) + ".sha256"],
                   cwd="build/snapshots", check=True)
    shutil.rmtree(WS, ignore_errors=True)
    os.makedirs(WS)
    subprocess.run(["tar", "-xzf", archive, "-C", WS], check=True)
    print(f"workspace restored from phase {phase} snapshot")


# ---------- scans (discovery) ------------------------------------------------

def scan(what):
    globs = {
        "orchestration": ["domains/*.json", "orchestration-manifest.json", "policies.json"],
        "sequences": ["sequences/*.json"],
        "handlers": ["handlers/*.py"],
        "specs": ["specs/*.feature"],
    }[what]
    files = sorted(p for g in globs for p in glob.glob(ws(g)))
    inventory = {os.path.relpath(p, WS): hashlib.sha256(open(p, "rb").read()).hexdigest() for p in files}
    save(f"{OUT}/scan-{what}.json", inventory)
    emit(**{f"metric.{what}_files": len(files)})
    print(f"scanned {len(files)} {what} files")


# ---------- phase 1: domains & orchestration ---------------------------------

def domain_violations():
    doms, seqs = domains(), sequences()
    found, checks = [], 0
    for d in doms.values():
        for dep in d.get("depends_on", []):
            checks += 1
            if dep not in doms:
                found.append(v("ORPHANED_DOMAIN_REFERENCE", f"domains/{d['id']}.json", dep))
    for s in seqs.values():
        checks += 1
        if s["domain"] not in doms:
            found.append(v("DOMAIN_NOT_FOUND", f"sequences/{s['id']}.json", s["domain"], "CRITICAL"))
    state = {}

    def visit(n, path):
        if state.get(n) == 1:
            found.append(v("CIRCULAR_DEPENDENCY", f"domains/{n}.json", " -> ".join(path + [n]), "CRITICAL"))
            return
        if state.get(n) == 2 or n not in doms:
            return
        state[n] = 1
        for m in doms[n].get("depends_on", []):
            visit(m, path + [n])
        state[n] = 2

    for n in doms:
        checks += 1
        visit(n, [])
    return found, checks


def manifest_violations():
    doms, seqs = domains(), sequences()
    man = load(ws("orchestration-manifest.json"))
    policies = {p["id"] for p in load(ws("policies.json"))["policies"]}
    found = []
    for kind, actual in (("domains", set(doms)), ("sequences", set(seqs))):
        listed = set(man[kind])
        for x in sorted(actual - listed):
            found.append(v("MANIFEST_MISMATCH", "orchestration-manifest.json", f"{kind}: {x} not listed"))
        for x in sorted(listed - actual):
            found.append(v("MANIFEST_MISMATCH", "orchestration-manifest.json", f"{kind}: {x} listed, no file"))
    union = len(set(man["domains"]) | set(doms)) + len(set(man["sequences"]) | set(seqs))
    governance = []
    for d in doms.values():
        refs = d.get("policies", [])
        if not refs:
            governance.append(v("POLICY_NOT_REFERENCED", f"domains/{d['id']}.json", "no policy"))
        for p in refs:
            if p not in policies:
                governance.append(v("POLICY_NOT_REFERENCED", f"domains/{d['id']}.json", f"unknown {p}"))
    return found, union, governance, len(doms)


def analyze(what):
    if what == "domains":
        dv, checks = domain_violations()
        mv, union, gv, _ = manifest_violations()
        data = {"domain": dv, "manifest": mv, "governance": gv, "domain_score": score(dv, checks)}
        total = len(dv) + len(mv) + len(gv)
    elif what == "sequences":
        sv, checks, deferred = sequence_violations()
        data = {"sequence": sv, "deferred": deferred, "sequence_score": score(sv, checks)}
        total = len(sv) + len(deferred)
    else:
        hv, checks, sv, n = handler_violations()
        data = {"handler": hv, "spec": sv, "handler_score": score(hv, checks), "spec_score": score(sv, n)}
        total = len(hv) + len(sv)
    save(f"{OUT}/analysis-{what}.json", data)
    for group in data.values():
        if isinstance(group, list):
            for x in group:
                print(f"{x['severity']:8} {x['code']:27} {x['where']}: {x['detail']}")
    emit(**{"metric.violations_found": total})
    print(f"{what}: {total} violations found")


def fix(what):
    log = []
    if what == "domains":
        doms = domains()
        for d in doms.values():
            bad = [x for x in d.get("depends_on", []) if x not in doms]
            if bad:
                d["depends_on"] = [x for x in d["depends_on"] if x in doms]
                save(ws("domains", f"{d['id']}.json"), d)
                log.append(f"domains/{d['id']}.json: removed orphaned {bad}")
        for s in sequences().values():
            if s["domain"] not in doms:
                # remap to the domain that owns the sequence's events
                owners = [b["event"].split(".")[0] for b in s["beats"]]
                best = max(set(owners), key=owners.count)
                if best not in doms:
                    sys.exit(f"cannot remap {s['id']}: no domain owns its events")
                log.append(f"sequences/{s['id']}.json: domain {s['domain']} -> {best}")
                s["domain"] = best
                save(ws("sequences", f"{s['id']}.json"), s)
    elif what == "orchestration":
        doms, seqs = domains(), sequences()
        save(ws("orchestration-manifest.json"), {"domains": sorted(doms), "sequences": sorted(seqs)})
        log.append("orchestration-manifest.json: regenerated from files")
        policies = load(ws("policies.json"))["policies"]
        for d in doms.values():
            if not d.get("policies"):
                named = [p["id"] for p in policies if d["id"] in p["text"].lower()]
                d["policies"] = named or [policies[0]["id"]]
                save(ws("domains", f"{d['id']}.json"), d)
                log.append(f"domains/{d['id']}.json: policies {d['policies']}")
    elif what == "sequences":
        known = handler_defs()
        for s in sequences().values():
            changed = False
            for i, b in enumerate(s["beats"], 1):
                if b["beat"] != i:
                    log.append(f"sequences/{s['id']}.json: beat {b['beat']} renumbered {i}")
                    b["beat"], changed = i, True
                if b["handler"] not in known:
                    close = difflib.get_close_matches(b["handler"], known, n=1, cutoff=0.8)
                    if close:
                        log.append(f"sequences/{s['id']}.json: handler {b['handler']} -> {close[0]}")
                        b["handler"], changed = close[0], True
            if s["beatCount"] != len(s["beats"]):
                log.append(f"sequences/{s['id']}.json: beatCount {s['beatCount']} -> {len(s['beats'])}")
                s["beatCount"], changed = len(s["beats"]), True
            if changed:
                save(ws("sequences", f"{s['id']}.json"), s)
    elif what == "handlers":
        log += fix_handlers()
    save(f"{OUT}/fixes-{what}.json", log)
    print("\n".join(log) or "nothing to fix")
    emit(**{"metric.fixes_applied": len(log)})


# ---------- phase 2: sequences ------------------------------------------------

def sequence_violations():
    doms, known = domains(), handler_defs()
    found, deferred, checks = [], [], 0
    for s in sequences().values():
        checks += 1
        if s["beatCount"] != len(s["beats"]):
            found.append(v("BEAT_COUNT_MISMATCH", s["id"], f"beatCount {s['beatCount']}, {len(s['beats'])} beats"))
        for i, b in enumerate(s["beats"], 1):
            checks += 3
            if b["beat"] != i:
                found.append(v("EVENT_ORDER_VIOLATION", s["id"], f"beat {b['beat']} at position {i}"))
            if b["event"].split(".")[0] not in doms:
                found.append(v("INVALID_EVENT_REFERENCE", s["id"], b["event"]))
            if b["handler"] not in known:
                if difflib.get_close_matches(b["handler"], known, n=1, cutoff=0.8):
                    found.append(v("HANDLER_NOT_FOUND", s["id"], f"{b['handler']} (typo)"))
                else:  # nothing to point at: phase 3 implements it
                    deferred.append(v("MISSING_IMPLEMENTATION", s["id"], b["handler"], "MINOR"))
    return found, checks, deferred


# ---------- phase 3: handlers & BDD specs ------------------------------------

def handler_violations():
    defs, tags = handler_defs(), spec_tags()
    found, checks = [], 0
    for h in referenced_handlers():
        checks += 3
        if h not in defs:
            found.append(v("MISSING_IMPLEMENTATION", h, "referenced by a sequence, not defined", "CRITICAL"))
            continue
        path, args, deco = defs[h]
        if args != ["ctx", "payload"]:
            found.append(v("SIGNATURE_MISMATCH", h, f"({', '.join(args)}) in {os.path.basename(path)}"))
        if not deco:
            found.append(v("TELEMETRY_NOT_INSTRUMENTED", h, os.path.basename(path)))
    specs = [v("BDD_SPEC_MISSING", h, "no @handler scenario", "MINOR") for h in referenced_handlers() if h not in tags]
    return found, checks, specs, len(referenced_handlers())


def fix_handlers():
    log = []
    seqs = sequences()
    owner = {b["handler"]: b["event"].split(".")[0] for s in seqs.values() for b in s["beats"]}
    for h in referenced_handlers():
        defs = handler_defs()
        if h not in defs:
            path = ws("handlers", f"{owner[h]}.py")
            with open(path, "a") as f:
                f.write(f"\n\n@instrumented\ndef {h}(ctx, payload):\n"
                        f"    \"\"\"Generated by conformity alignment: implement me.\"\"\"\n"
                        f"    ctx.setdefault(\"pending\", []).append(\"{h}\")\n    return ctx\n")
            log.append(f"handlers/{owner[h]}.py: stub for {h}")
            continue
        path, args, deco = defs[h]
        src = open(path).read()
        if args != ["ctx", "payload"]:
            src = re.sub(rf"def {h}\([^)]*\):", f"def {h}(ctx, payload):", src)
            log.append(f"{os.path.relpath(path, WS)}: {h} signature -> (ctx, payload)")
        if not deco:
            src = re.sub(rf"(?m)^def {h}\(", f"@instrumented\ndef {h}(", src)
            log.append(f"{os.path.relpath(path, WS)}: {h} instrumented")
        with open(path, "w") as f:
            f.write(src)
    tags = spec_tags()
    for h in referenced_handlers():
        if h not in tags:
            path = ws("specs", f"{owner[h]}.feature")
            new = not os.path.exists(path)
            with open(path, "a") as f:
                if new:
                    f.write(f"Feature: {owner[h].capitalize()}\n")
                f.write(f"\n  @handler:{h} @pending\n  Scenario: {h.replace('_', ' ')}\n"
                        f"    Given a context for {h}\n    When {h} runs\n    Then the expected event is published\n")
            log.append(f"specs/{owner[h]}.feature: pending scenario for {h}")
    return log


def validate(what):
    if what == "manifest":
        mv, union, gv, n = manifest_violations()
        res = {"manifest_consistency": score(mv, union), "governance_violations": len(gv),
               "remaining": mv + gv}
    elif what == "sequences":
        sv, checks, deferred = sequence_violations()
        res = {"sequence_score": score(sv, checks), "beat_count_mismatches":
               sum(x["code"] == "BEAT_COUNT_MISMATCH" for x in sv), "deferred": deferred, "remaining": sv}
    else:
        sys.dont_write_bytecode = True
        sys.path.insert(0, ws("handlers"))
        # import every module: the handlers must at least load and keep the interface
        import importlib
        import inspect
        problems = []
        for path in sorted(glob.glob(ws("handlers", "*.py"))):
            mod = importlib.import_module(os.path.basename(path)[:-3])
            for name, fn in inspect.getmembers(mod, inspect.isfunction):
                if fn.__module__ != mod.__name__ or name.startswith("_") or name == "instrumented":
                    continue
                if not getattr(fn, "__instrumented__", False):
                    problems.append(f"{name}: not instrumented")
                if list(inspect.signature(fn).parameters) != ["ctx", "payload"]:
                    problems.append(f"{name}: signature {inspect.signature(fn)}")
        hv, checks, specv, n = handler_violations()
        res = {"handler_score": score(hv, checks), "spec_score": score(specv, n),
               "missing": sum(x["code"] == "MISSING_IMPLEMENTATION" for x in hv),
               "interface_problems": problems, "remaining": hv + specv}
    save(f"{OUT}/validation-{what}.json", res)
    for x in res["remaining"]:
        print(f"remaining: {x['code']} {x['where']}: {x['detail']}")
    print(f"{what}: " + ", ".join(f"{k}={v}" for k, v in res.items() if not isinstance(v, list)))


CRITERIA = {
    "1": [("domain alignment score", lambda: score(*domain_violations()), ">=", 0.95),
          ("orchestration manifest consistency", lambda: score(*manifest_violations()[:2]), ">=", 1.0),
          ("governance policy violations", lambda: len(manifest_violations()[2]), "<=", 0)],
    "2": [("sequence beat alignment score", lambda: load(f"{OUT}/validation-sequences.json")["sequence_score"], ">=", 0.98),
          ("beat count mismatches", lambda: load(f"{OUT}/validation-sequences.json")["beat_count_mismatches"], "<=", 0)],
    "3": [("handler compliance score", lambda: load(f"{OUT}/validation-handlers.json")["handler_score"], ">=", 0.92),
          ("BDD spec alignment score", lambda: load(f"{OUT}/validation-handlers.json")["spec_score"], ">=", 0.95),
          ("missing handler methods", lambda: load(f"{OUT}/validation-handlers.json")["missing"], "<=", 0)],
}
PHASE_FILES = {"1": (["domains"], ["domains", "orchestration"]), "2": (["sequences"], ["sequences"]),
               "3": (["handlers"], ["handlers"])}


def report(phase):
    analyses, fixes = PHASE_FILES[phase]
    found = sum(len(x) for a in analyses for x in load(f"{OUT}/analysis-{a}.json").values() if isinstance(x, list))
    applied = [line for f in fixes for line in load(f"{OUT}/fixes-{f}.json")]
    results, ok = [], True
    for name, get, op, target in CRITERIA[phase]:
        value = get()
        met = value >= target if op == ">=" else value <= target
        ok &= met
        results.append({"criterion": name, "value": value, "target": f"{op} {target}", "met": met})
    rep = {"phase": int(phase), "violations_found": found, "fixes_applied": len(applied), "fixes": applied,
           "criteria": results, "complete": ok}
    save(f"build/reports/phase-{phase}.json", rep)
    with open(f"build/reports/phase-{phase}.md", "w") as f:
        f.write(f"# Conformity phase {phase}\n\n{found} violations found, {len(applied)} fixes applied.\n\n")
        f.write("| criterion | value | target | met |\n| --- | --- | --- | --- |\n")
        for r in results:
            f.write(f"| {r['criterion']} | {r['value']} | {r['target']} | {'yes' if r['met'] else 'NO'} |\n")
        f.write("\n## Fixes\n\n" + "".join(f"- {x}\n" for x in applied))
    emit(**{f"metric.phase{phase}_violations": found, f"metric.phase{phase}_fixes": len(applied)})
    for r in results:
        print(f"{'met ' if r['met'] else 'MISS'} {r['criterion']}: {r['value']} (target {r['target']})")
    print(f"phase {phase}: {found} violations, {len(applied)} fixes, {'complete' if ok else 'INCOMPLETE'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    cmds = {"snapshot": snapshot, "restore": restore, "scan": scan, "analyze": analyze, "fix": fix,
            "validate": validate, "report": report}
    if len(sys.argv) != 3 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2])

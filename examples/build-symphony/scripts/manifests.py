#!/usr/bin/env python3
"""Movement 2 (manifests): one unified, deterministic view of the system.

usage: manifests.py domains|sync|generate|integrity
  domains    orchestration/domains/*.json   -> build/domains/registry.json
  sync       orchestration/sequences/*.json -> build/sources/*.json (normalised)
  generate   packages + build/sources        -> build/manifests/{component,sequence,topic,layout,interaction}.json
  integrity  cross-checks the 5 manifests    -> build/integrity/manifests.sha256
Output is byte-for-byte reproducible (sorted keys, no timestamps), so cached
results stay valid.
"""
import glob
import hashlib
import json
import os
import shutil
import sys

MANIFESTS = ["component", "sequence", "topic", "layout", "interaction"]


def load(path):
    with open(path) as f:
        return json.load(f)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def packages():
    out = {}
    for path in sorted(glob.glob("packages/*/package.json")):
        out[os.path.basename(os.path.dirname(path))] = load(path)
    return out


def domains():
    shutil.rmtree("build/domains", ignore_errors=True)
    doms = sorted(map(load, glob.glob("orchestration/domains/*.json")), key=lambda d: d["id"])
    write("build/domains/registry.json", {"domains": doms, "count": len(doms)})
    print(f"regenerated registry of {len(doms)} domains")


def sync():
    shutil.rmtree("build/sources", ignore_errors=True)
    n = 0
    for path in sorted(glob.glob("orchestration/sequences/*.json")):
        write(os.path.join("build/sources", os.path.basename(path)), load(path))
        n += 1
    print(f"synced {n} JSON sources")


def generate():
    shutil.rmtree("build/manifests", ignore_errors=True)
    pk = packages()
    seqs = [load(p) for p in sorted(glob.glob("build/sources/*.json"))]
    registry = load("build/domains/registry.json")
    component = {n: {"package": m["name"], "version": m["version"], "handlers": m["handlers"],
                     "depends_on": sorted(d.split("/", 1)[1] for d in m["dependencies"])}
                 for n, m in pk.items()}
    sequence = {s["id"]: {"domain": s["domain"], "beats": len(s["beats"]),
                          "handlers": [b["handler"] for b in s["beats"]]} for s in seqs}
    topic = {t: n for n, m in pk.items() for t in m["topics"]}
    layout = {n: m["slot"] for n, m in pk.items() if "slot" in m}
    interaction = {f"{s['id']}#{b['beat']}": {"on": b["event"], "call": b["handler"]}
                   for s in seqs for b in s["beats"]}
    data = dict(component=component, sequence=sequence, topic=topic, layout=layout, interaction=interaction)
    for name in MANIFESTS:
        write(f"build/manifests/{name}.json", {"manifest": name, "domains": registry["count"], "entries": data[name]})
    print("generated manifests: " + ", ".join(f"{k}={len(v)}" for k, v in data.items()))


def integrity():
    m = {n: load(f"build/manifests/{n}.json")["entries"] for n in MANIFESTS}
    handlers = {h: c for c, v in m["component"].items() for h in v["handlers"]}
    problems = []
    for sid, s in m["sequence"].items():
        for h in s["handlers"]:
            if h not in handlers:
                problems.append(f"HANDLER_NOT_FOUND {sid}: {h}")
    for key, i in m["interaction"].items():
        if i["on"] not in m["topic"]:
            problems.append(f"INVALID_EVENT_REFERENCE {key}: {i['on']}")
    for c, v in m["component"].items():
        for d in v["depends_on"]:
            if d not in m["component"]:
                problems.append(f"UNRESOLVED_IMPORT {c}: {d}")
    for c in m["layout"]:
        if c not in m["component"]:
            problems.append(f"MANIFEST_MISMATCH layout: {c}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    os.makedirs("build/integrity", exist_ok=True)
    with open("build/integrity/manifests.sha256", "w") as out:
        for n in MANIFESTS:
            path = f"build/manifests/{n}.json"
            with open(path, "rb") as f:
                out.write(f"{hashlib.sha256(f.read()).hexdigest()}  {path}\n")
    print(f"5 manifests consistent: {len(handlers)} handlers, {len(m['topic'])} topics, "
          f"{len(m['interaction'])} interactions")


if __name__ == "__main__":
    cmds = {"domains": domains, "sync": sync, "generate": generate, "integrity": integrity}
    if len(sys.argv) != 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]]()

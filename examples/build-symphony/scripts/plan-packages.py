#!/usr/bin/env python3
"""Initialise the package build (movement 3, beat 1).

Reads packages/*/package.json, checks every dependency exists and that there is
no cycle, and writes the build order (a topological sort, grouped in waves that
may build in parallel) to build/package-plan.json.
"""
import glob
import json
import os
import sys

pk = {}
for path in sorted(glob.glob("packages/*/package.json")):
    with open(path) as f:
        meta = json.load(f)
    name = os.path.basename(os.path.dirname(path))
    pk[name] = sorted(d.split("/", 1)[1] for d in meta.get("dependencies", {}))
    if not os.path.isfile(f"packages/{name}/src/index.js"):
        sys.exit(f"package {name}: missing src/index.js")
for name, deps in pk.items():
    for d in deps:
        if d not in pk:
            sys.exit(f"package {name}: UNRESOLVED_IMPORT {d}")

waves, done = [], set()
while len(done) < len(pk):
    wave = sorted(n for n, deps in pk.items() if n not in done and set(deps) <= done)
    if not wave:
        sys.exit("CIRCULAR_DEPENDENCY among " + ", ".join(sorted(set(pk) - done)))
    waves.append(wave)
    done.update(wave)

os.makedirs("build/packages", exist_ok=True)
with open("build/package-plan.json", "w") as f:
    json.dump({"packages": len(pk), "waves": waves, "dependencies": pk}, f, indent=2, sort_keys=True)
    f.write("\n")
for i, wave in enumerate(waves, 1):
    print(f"wave {i}: {' '.join(wave)}")

#!/usr/bin/env bash
# Build one plugin package (movement 3).
#   usage: build-package.sh NAME
# Checks that every dependency was built first (the seed's "dependency order"
# policy), "compiles" the sources (strips comments and blank lines: stands in for
# tsc/esbuild) and packs a reproducible tarball, so cached outputs stay valid.
set -euo pipefail
name="${1:?usage: build-package.sh NAME}"
src="packages/$name"
out="build/packages/$name"
test -f "$src/package.json" || { echo "no such package: $name" >&2; exit 1; }

read -r version deps < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m["version"], " ".join(d.split("/", 1)[1] for d in m["dependencies"]))' "$src/package.json")
for dep in $deps; do
  test -f "build/packages/$dep/package.json" || {
    echo "dependency $dep of $name is not built yet" >&2
    exit 1
  }
done

bytes=$(cat "$src"/src/*.js | wc -c)
# compile time grows with the size of the sources
sleep "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", 0.25 + b / 5000 }')"

rm -rf "$out" && mkdir -p "$out/dist"
sed -e 's#^[[:space:]]*//.*$##' -e '/^[[:space:]]*$/d' "$src/src/index.js" > "$out/dist/index.js"
cp "$src/package.json" "$out/package.json"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$out" -cf - package.json dist \
  | gzip -n > "$out/$name-$version.tgz"
echo "built @renderx-plugins/$name@$version: $bytes -> $(wc -c < "$out/dist/index.js") bytes"

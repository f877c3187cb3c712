#!/usr/bin/env bash
# Host application build (movement 4).
#   usage: host.sh prepare|vite|validate
#   prepare   stage host sources and check every plugin package was built
#   vite      bundle host + plugins into build/host/dist (stands in for `vite build`)
#   validate  check the bundle: index.html points at a real asset, every plugin registered
set -euo pipefail
stage=build/host/stage
dist=build/host/dist

prepare() {
  rm -rf "$stage" && mkdir -p "$stage"
  cp host/index.html "$stage/"
  cp -r host/src "$stage/src"
  python3 - <<'PY'
import json, os
plan = json.load(open("build/package-plan.json"))
order = [p for wave in plan["waves"] for p in wave]
missing = [p for p in order if not os.path.isfile(f"build/packages/{p}/dist/index.js")]
if missing:
    raise SystemExit(f"packages not built: {missing}")
with open("build/host/stage/plugins.txt", "w") as f:
    f.write("\n".join(order) + "\n")
print(f"staged host with {len(order)} plugins")
PY
}

vite() {
  : "${NODE_ENV:=production}" "${VITE_TARGET:=es2020}"
  sleep 1.4   # bundling, tree-shaking and minifying take the longest here
  rm -rf "$dist" && mkdir -p "$dist/assets"
  bundle=$(mktemp)
  trap 'rm -f "$bundle"' EXIT
  {
    echo "/* renderx host bundle: mode=$NODE_ENV target=$VITE_TARGET */"
    while read -r plugin; do
      echo "/* @renderx-plugins/$plugin */"
      grep -v '^import ' "build/packages/$plugin/dist/index.js"
    done < "$stage/plugins.txt"
    grep -v '^[[:space:]]*//' "$stage/src/main.js"
  } > "$bundle"
  hash=$(sha256sum "$bundle" | cut -c1-8)
  asset="assets/app-$hash.js"
  cp "$bundle" "$dist/$asset"
  gzip -9 -n -c "$dist/$asset" > "$dist/$asset.gz"
  sed "s#/src/main.js#/$asset#" "$stage/index.html" > "$dist/index.html"
  echo "vite: $dist/$asset $(wc -c < "$dist/$asset") bytes ($(wc -c < "$dist/$asset.gz") gzip)"
}

validate() {
  asset=$(grep -o 'assets/app-[0-9a-f]*\.js' "$dist/index.html")
  test -s "$dist/$asset" || { echo "index.html references missing $asset" >&2; exit 1; }
  gzip -t "$dist/$asset.gz"
  expected=$(wc -l < "$stage/plugins.txt")
  registered=$(grep -c 'host.plugin(' "$dist/$asset")
  test "$registered" -eq "$expected" || { echo "$registered of $expected plugins registered" >&2; exit 1; }
  bytes=$(wc -c < "$dist/$asset")
  gz=$(wc -c < "$dist/$asset.gz")
  echo "metric.bundle_bytes=$bytes" >> "${BATON_OUTPUT:-/dev/null}"
  echo "metric.bundle_gzip_bytes=$gz" >> "${BATON_OUTPUT:-/dev/null}"
  echo "host artifacts valid: $asset, $registered plugins, $bytes bytes"
}

case "${1:-}" in
  prepare|vite|validate) "$1" ;;
  *) echo "usage: $0 prepare|vite|validate" >&2; exit 2 ;;
esac

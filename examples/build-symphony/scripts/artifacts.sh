#!/usr/bin/env bash
# Artifact management (movement 5).
#   usage: artifacts.sh collect|hash|verify|manifest|rollback
#   collect   copy package tarballs and the host bundle into dist/ (the previous
#             dist/ is kept in build/dist.previous for `rollback`)
#   hash      dist/SHA256SUMS
#   verify    check hashes and archive integrity -> build/signatures/verification.json
#   manifest  dist/artifact-manifest.json (+ metrics on $BATON_OUTPUT)
#   rollback  restore the previous dist/
set -euo pipefail

collect() {
  rm -rf build/dist.previous
  if [ -d dist ]; then mv dist build/dist.previous; fi
  mkdir -p dist/packages dist/host
  cp build/packages/*/*.tgz dist/packages/
  cp -r build/host/dist/. dist/host/
  echo "collected $(find dist -type f | wc -l) artifacts"
}

hashes() {
  (cd dist && find packages host -type f | LC_ALL=C sort | xargs sha256sum) > dist/SHA256SUMS.tmp
  mv dist/SHA256SUMS.tmp dist/SHA256SUMS
  echo "hashed $(wc -l < dist/SHA256SUMS) artifacts"
}

verify() {
  (cd dist && sha256sum --check --quiet SHA256SUMS)
  n=0
  for f in dist/packages/*.tgz; do
    gzip -t "$f"
    # no `grep -q`: it would stop reading early and kill tar with SIGPIPE under pipefail
    tar -tzf "$f" | grep -x 'package.json' > /dev/null || { echo "$f: no package.json" >&2; exit 1; }
    n=$((n + 1))
  done
  for f in $(find dist/host -name '*.gz'); do gzip -t "$f"; done
  mkdir -p build/signatures
  printf '{"verified": %d, "sha256sums": "%s"}\n' "$(wc -l < dist/SHA256SUMS)" \
    "$(sha256sum dist/SHA256SUMS | cut -d' ' -f1)" > build/signatures/verification.json
  echo "signatures valid: $(wc -l < dist/SHA256SUMS) hashes, $n package archives"
}

manifest() {
  python3 - <<'PY'
import json, os
entries = []
with open("dist/SHA256SUMS") as f:
    for line in f:
        digest, path = line.split(None, 1)
        path = path.strip()
        entries.append({"path": path, "sha256": digest, "bytes": os.path.getsize(os.path.join("dist", path))})
total = sum(e["bytes"] for e in entries)
with open("dist/artifact-manifest.json", "w") as f:
    json.dump({"artifacts": entries, "count": len(entries), "bytes": total}, f, indent=2)
    f.write("\n")
with open(os.environ.get("BATON_OUTPUT", os.devnull), "a") as out:
    out.write(f"metric.artifacts_total={len(entries)}\nmetric.artifact_bytes={total}\n")
print(f"artifact manifest: {len(entries)} artifacts, {total} bytes")
PY
}

rollback() {
  if [ -d build/dist.previous ]; then
    rm -rf dist && mv build/dist.previous dist
    echo "restored previous dist/"
  else
    rm -rf dist
    echo "no previous dist/; removed the partial one"
  fi
}

case "${1:-}" in
  collect|verify|manifest|rollback) "$1" ;;
  hash) hashes ;;
  *) echo "usage: $0 collect|hash|verify|manifest|rollback" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Packaging, blue/green deployment and feature toggles for cart-pricing.
#   usage: deploy.sh package | stage | deploy | rollback ENV | release | unrelease
#   package    compile-check app/ and pack dist/cart-pricing-VERSION.tar.gz (reproducible)
#   stage      blue/green deploy of the package to build/env/staging, health-checked
#   deploy     same for build/env/production, every feature toggle off (dark launch)
#   rollback   point ENV's `current` back at the previous colour
#   release    toggle features on for a user cohort ($COHORT_PERCENT, default 25)
#   unrelease  toggle every feature off again (the release beat's rollback)
# "Environments" are directories; `current` is a symlink switched atomically.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
version=$(sed -n 's/^VERSION = "\(.*\)"$/\1/p' app/pricing.py)
pkg="dist/cart-pricing-$version.tar.gz"

package() {
  mkdir -p build/compile
  python3 -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' \
    app/pricing.py build/compile/pricing.pyc
  rm -rf dist && mkdir -p dist
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --exclude=__pycache__ \
    --transform "s#^app#cart-pricing-$version#" -cf - app | gzip -n > "$pkg"
  (cd dist && sha256sum "$(basename "$pkg")" > "$(basename "$pkg").sha256")
  echo "packaged $pkg ($(wc -c < "$pkg") bytes)"
}

health_check() {  # DIR: import the deployed code and price a known cart
  python3 - "$1" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import pricing
out = pricing.price([("tea", "2.00", 3)])
assert out == {"subtotal": "6.00", "shipping": "4.95", "total": "10.95", "points": 0}, out
print(f"health check ok: cart-pricing {pricing.VERSION} at {sys.argv[1]}")
PY
}

blue_green() {  # ENV
  env_dir="build/env/$1"
  mkdir -p "$env_dir"
  (cd dist && sha256sum --check --quiet "$(basename "$pkg").sha256")
  live=$(readlink "$env_dir/current" 2>/dev/null || echo none)
  idle=blue; [ "$live" = blue ] && idle=green
  rm -rf "${env_dir:?}/$idle" && mkdir -p "$env_dir/$idle"
  tar -xzf "$pkg" -C "$env_dir/$idle" --strip-components=1
  health_check "$env_dir/$idle"
  ln -sfn "$idle" "$env_dir/current.new" && mv -T "$env_dir/current.new" "$env_dir/current"
  [ "$live" != none ] && echo "$live" > "$env_dir/previous"
  printf '{"version": "%s", "live": "%s", "previous": "%s", "by": "%s"}\n' \
    "$version" "$idle" "$live" "${BATON_RUN_ID:-manual}" > "$env_dir/deployment.json"
  echo "$1: switched $live -> $idle ($version)"
}

stage() { blue_green staging; }

deploy() {
  : "${DEPLOY_ENV:=production}"
  # the token is only echoed to show that baton masks `secrets:` in logs
  echo "authenticating to $DEPLOY_ENV with token ${DEPLOY_TOKEN:-<none>}"
  blue_green "$DEPLOY_ENV"
  # dark launch: ship every feature with its toggle off (SAFe policy: toggles required)
  python3 - "$DEPLOY_ENV" <<'PY'
import json, sys
sys.path.insert(0, f"build/env/{sys.argv[1]}/current")
import pricing
features = json.load(open("product/backlog.json"))["features"]
missing = [f["id"] for f in features if f["toggle"] not in pricing.TOGGLES]
if missing:
    raise SystemExit(f"features without a toggle: {missing}")
toggles = {"features": [{"id": f["id"], "toggle": f["toggle"], "enabled": False, "cohort_percent": 0} for f in features]}
with open(f"build/env/{sys.argv[1]}/toggles.json", "w") as out:
    json.dump(toggles, out, indent=2)
print(f"dark launch: {len(features)} features deployed behind toggles (all off)")
PY
}

rollback() {
  env_dir="build/env/${1:?usage: deploy.sh rollback ENV}"
  if [ -f "$env_dir/previous" ]; then
    prev=$(cat "$env_dir/previous")
    ln -sfn "$prev" "$env_dir/current.new" && mv -T "$env_dir/current.new" "$env_dir/current"
    echo "$1: rolled back to $prev"
  else
    echo "$1: nothing to roll back to"
  fi
}

set_toggles() {  # PERCENT
  python3 - "$1" <<'PY'
import json, sys
pct = int(sys.argv[1])
path = "build/env/production/toggles.json"
t = json.load(open(path))
for f in t["features"]:
    f["enabled"], f["cohort_percent"] = pct > 0, pct
json.dump(t, open(path, "w"), indent=2)
print(f"{len(t['features'])} features {'on for ' + str(pct) + '% of users' if pct else 'off'}")
PY
}

release() { set_toggles "${COHORT_PERCENT:-25}"; }
unrelease() { set_toggles 0; }

case "${1:-}" in
  package|stage|deploy|release|unrelease) "$1" ;;
  rollback) rollback "${2:-}" ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Installs what test/runtimes.test.ts runs the built package in, on a machine with only Node 20 + npm:
#   - Node 24, Deno and Bun: npm packages pinned in test/runtimes/package.json, installed into
#     test/runtimes/node_modules — a folder of their own, so Node 24 never shadows the machine's node
#     in the project's npm scripts (npm puts node_modules/.bin first on PATH).
#   - Chromium: Debian's package (/usr/bin/chromium), driven by playwright-core (a devDependency).
#     Needs root, as on CI; skipped when /usr/bin/chromium already runs.
# Every binary is then run once: npm 11 may skip install scripts it has not approved (the node, deno
# and bun packages fetch or link their binary in one), and a runtime that is not there must show
# up here, not as a confusing test failure.
set -euo pipefail
cd "$(dirname "$0")/.."

t0=$SECONDS
if ! /usr/bin/chromium --version >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-runtimes: Chromium is missing and this is not root: run 'apt-get install -y chromium' as root" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "install-runtimes: $(/usr/bin/chromium --version 2>/dev/null) ($((SECONDS - t0)) s)"

t1=$SECONDS
# No lockfile: npm would record only this platform's optional binary packages in it, and `npm ci`
# then refuses it. The versions are pinned exactly instead; "allowScripts" approves their install scripts.
npm install --prefix test/runtimes --no-package-lock --no-audit --no-fund --loglevel=error
bin=test/runtimes/node_modules/.bin
check() {
  local name=$1 pkg=$2
  shift 2
  if ! "$@" >/dev/null 2>&1; then
    # The package's install script did not run (or failed): run it now, then check again.
    npm rebuild --prefix test/runtimes --foreground-scripts "$pkg" --loglevel=error
    "$@" >/dev/null 2>&1 || { echo "install-runtimes: $name does not run after installing npm package '$pkg'" >&2; exit 1; }
  fi
  echo "install-runtimes: $name $("$@" 2>&1 | head -1)"
}
check "Node 24" node "$bin/node" --version
check "Deno" deno "$bin/deno" --version
check "Bun" bun "$bin/bun" --version
echo "install-runtimes: npm runtimes in $((SECONDS - t1)) s"

#!/usr/bin/env bash
# tests/browser/deps.sh - installs what the browser tests need, if missing:
# Debian's chromium (apt-get, needs root) and npm's playwright-core from the
# committed lockfile (npm ci into tests/browser/node_modules).  Idempotent and
# quick when everything is there; .ci/deps.sh and test_dashboard.sh call it.
# Exit status 0 when the tests can run, 1 with a message saying what to do.
set -uo pipefail
cd "$(dirname "$0")"

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps.sh: /usr/bin/chromium is missing; install it as root: apt-get install -y chromium" >&2
    exit 1
  fi
  echo "deps.sh: installing chromium (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q chromium >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1
    apt-get install -y -q chromium >/dev/null || {
      echo "deps.sh: apt-get install chromium failed; see the apt output above" >&2
      exit 1
    }
  fi
fi

# Node.js and npm drive the browser and the OpenTelemetry JS SDK in the tests;
# a bare Debian has neither: install its packages when root.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "deps.sh: installing nodejs and npm (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q nodejs npm >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nodejs npm >/dev/null; }
  fi
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || {
    echo "deps.sh: $tool is missing; install Node.js 18.19 or newer with npm (apt-get install nodejs npm)" >&2
    exit 1
  }
done

# The installed playwright-core must be the locked one; npm ci otherwise.
want=$(node -e 'console.log(require("./package-lock.json").packages["node_modules/playwright-core"].version)' 2>/dev/null)
have=$(node -e 'console.log(require("./node_modules/playwright-core/package.json").version)' 2>/dev/null)
if [[ -z $want || $want != "$have" ]]; then
  echo "deps.sh: npm ci (playwright-core ${want:-?})..." >&2
  npm ci --no-audit --no-fund --loglevel=error >&2 || {
    echo "deps.sh: npm ci failed in tests/browser; check network access to the npm registry" >&2
    exit 1
  }
fi
exit 0

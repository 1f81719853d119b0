#!/usr/bin/env bash
# Checks that every build and test dependency is present and installs what is
# missing with apt-get (Debian's packages only).  Run by `make test`, `make run`,
# `make asan` and `make bench`; safe to run again: it does nothing when all is there.
set -euo pipefail

# header-or-command  debian-package
need=(
  "/usr/include/nng/nng.h libnng-dev"
  "/usr/include/zlib.h zlib1g-dev"
  "/usr/include/zstd.h libzstd-dev"
  "/usr/include/rocksdb/c.h librocksdb-dev"
  "/usr/include/jansson.h libjansson-dev"
  "/usr/include/cmocka.h libcmocka-dev"
  "/usr/include/microhttpd.h libmicrohttpd-dev"
  "/usr/include/x86_64-linux-gnu/curl/curl.h libcurl4-openssl-dev"
  "cmd:pkg-config pkg-config"
  "cmd:jq jq"
  "cmd:curl curl"
  "cmd:openssl openssl"
  "cmd:valgrind valgrind"
  "/etc/ssl/certs/ca-certificates.crt ca-certificates"
)

missing=()
for entry in "${need[@]}"; do
  what=${entry% *}
  pkg=${entry##* }
  if [[ $what == cmd:* ]]; then
    command -v "${what#cmd:}" >/dev/null 2>&1 || missing+=("$pkg")
  else
    # curl's header lives under a multiarch directory on some architectures
    if [[ $pkg == libcurl4-openssl-dev ]]; then
      compgen -G "/usr/include/*/curl/curl.h" >/dev/null || [[ -e /usr/include/curl/curl.h ]] ||
        missing+=("$pkg")
    else
      [[ -e $what ]] || missing+=("$pkg")
    fi
  fi
done

# The browser tests' own needs (Debian chromium, playwright-core from the lockfile).
browser() {
  bash "$(dirname "$0")/../tests/browser/deps.sh" || return 1
  # The OpenTelemetry JS SDK that the OTLP end-to-end test drives.
  if [[ ! -d $(dirname "$0")/../tests/otel-js/node_modules ]]; then
    (cd "$(dirname "$0")/../tests/otel-js" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

if ((${#missing[@]} == 0)); then
  browser
  exit $?
fi

echo "deps: missing packages: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: not root; install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
browser

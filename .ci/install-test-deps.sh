#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine with Python 3.11:
# the real TLS peers the interop tests talk to, the headless browsers tests/browser runs
# against `tlskit serve` (chromium, firefox-esr, and certutil from libnss3-tools to put the
# test root in their NSS databases), redis-server (the shared session-store tests), and
# tlskit with its test extra.
# Idempotent and quiet: apt runs only for what is missing, and prints only on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for tool in openssl gnutls-cli curl chromium firefox-esr certutil ss redis-server; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  pkgs=()
  for tool in "${need[@]}"; do
    case "$tool" in
      gnutls-cli) pkgs+=(gnutls-bin) ;;
      certutil) pkgs+=(libnss3-tools) ;;
      ss) pkgs+=(iproute2) ;;
      redis-server) pkgs+=(redis-server) ;;
      *) pkgs+=("$tool") ;;
    esac
  done
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  # The browsers' maintainer scripts talk on stderr (debconf, update-alternatives): keep
  # the output, and show it only if the install fails.
  log=$(mktemp)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
fi
python3 -m pip install -q -e '.[test]'

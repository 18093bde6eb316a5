#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine with Python 3.11:
# the real TLS peers the interop tests talk to, and tlskit with its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for tool in openssl gnutls-cli curl; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  pkgs=()
  for tool in "${need[@]}"; do
    case "$tool" in
      gnutls-cli) pkgs+=(gnutls-bin) ;;
      *) pkgs+=("$tool") ;;
    esac
  done
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
python3 -m pip install -q -e '.[test]'

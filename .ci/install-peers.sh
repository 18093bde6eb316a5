#!/bin/sh
# Install the peer binaries tests/interop talks to, on a fresh Debian/Ubuntu machine:
#   openssl (s_server, s_client), gnutls-bin (gnutls-cli, gnutls-serv), curl,
#   and coreutils for stdbuf (the tests unbuffer openssl's -trace output with it).
# Idempotent and quiet: nothing is touched when every binary is already there, and only
# errors are printed otherwise. Runs as root, or through sudo when it is available.
set -eu

missing=""
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
{ command -v gnutls-cli && command -v gnutls-serv; } >/dev/null 2>&1 || missing="$missing gnutls-bin"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v stdbuf >/dev/null 2>&1 || missing="$missing coreutils"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "install-peers.sh: need root (or sudo) to install:$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086  # $missing is a word list on purpose
$as_root apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null

for binary in openssl gnutls-cli gnutls-serv curl stdbuf; do
    command -v "$binary" >/dev/null 2>&1 || {
        echo "install-peers.sh: $binary is still missing after installing:$missing" >&2
        exit 1
    }
done

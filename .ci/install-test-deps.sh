#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine with Python 3.11:
# the real TLS peers the interop tests talk to, the headless browsers tests/browser runs
# against `tlskit serve` (chromium, firefox-esr, and certutil from libnss3-tools to put the
# test root in their NSS databases; the same package brings NSS's tstclnt and selfserv,
# interop peers), nginx (a real web server for tests/compat, run from
# its own temporary prefix), ss (iproute2: listen backlogs),
# redis-server (the shared session-store tests), golang-go (Go's crypto/tls as a peer,
# built from tests/interop/go), android-boringssl (BoringSSL's bssl-tool client and
# server as a peer), lighttpd with lighttpd-mod-wolfssl and lighttpd-mod-mbedtls
# (wolfSSL and mbedTLS as servers, run in the foreground from a temporary directory),
# botan (Botan's tls_server and tls_client), openjdk-17-jdk-headless (javac and java:
# Java's JSSE as a peer, compiled from tests/interop/java), librust-rustls-dev and
# librust-rustls-pemfile-dev (rustls' crate sources, with ring's, webpki's and sct's: the
# rustls peer of tests/interop/rustls is built offline against them), with cargo and a C
# compiler (ring's build) when missing, the TLS scanners tests/interop/test_scanners.py
# runs (testssl.sh, sslscan, and sslyze from PyPI in a venv of its own, .venv-sslyze, since
# it pins cryptography<47; and aioquic, the QUIC-TLS peer, in .venv-aioquic, since it pins a
# pyOpenSSL that holds cryptography back), erlang-ssl (escript, with erlang-base, erlang-crypto and
# erlang-public-key as its dependencies: Erlang/OTP's ssl as a peer, run from
# tests/interop/erlang/peer.escript), postgresql (a real server for STARTTLS-style
# SSLRequest), and tlskit with its test
# extra in a virtual
# environment, .venv at the top of the repository: Debian's own python3 is "externally
# managed" (PEP 668) and refuses a plain `pip install`, and a venv works the same on it,
# on pyenv and in CI. Run the tests with .venv/bin/python -m pytest.
# Idempotent and quiet: apt runs only for what is missing, and prints only on failure.
# PYTHON picks the interpreter the venv is made from (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=""

apt_install() {
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
  # The browsers' maintainer scripts talk on stderr (debconf, update-alternatives): keep
  # the output, and show it only if the install fails.
  local log
  log=$(mktemp)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
}

need=()
for tool in openssl gnutls-cli curl chromium firefox-esr certutil ss nginx update-ca-certificates redis-server go tstclnt selfserv bssl-tool lighttpd botan testssl sslscan javac cargo cc escript; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  pkgs=()
  for tool in "${need[@]}"; do
    case "$tool" in
      gnutls-cli) pkgs+=(gnutls-bin) ;;
      certutil|tstclnt|selfserv) pkgs+=(libnss3-tools) ;;
      ss) pkgs+=(iproute2) ;;
      update-ca-certificates) pkgs+=(ca-certificates) ;;
      go) pkgs+=(golang-go) ;;
      bssl-tool) pkgs+=(android-boringssl) ;;
      testssl) pkgs+=(testssl.sh) ;;
      javac) pkgs+=(openjdk-17-jdk-headless) ;;
      cc) pkgs+=(gcc) ;;
      escript) pkgs+=(erlang-ssl) ;;
      *) pkgs+=("$tool") ;;
    esac
  done
  apt_install "${pkgs[@]}"
fi
# lighttpd's TLS modules are files, not commands.
mods=()
for mod in wolfssl mbedtls; do
  [ -f "/usr/lib/lighttpd/mod_$mod.so" ] || mods+=("lighttpd-mod-$mod")
done
[ ${#mods[@]} -eq 0 ] || apt_install "${mods[@]}"
# PostgreSQL (tests/interop/test_starttls_postgres.py: a real server behind its SSLRequest
# preamble); Debian keeps its server binaries off PATH, under /usr/lib/postgresql/N/bin.
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || apt_install postgresql
# Crate sources are files too (under /usr/share/cargo/registry), and so is Erlang's ssl
# application (under /usr/lib/erlang/lib: escript may come without it).
crates=()
for crate in librust-rustls-dev librust-rustls-pemfile-dev erlang-ssl; do
  dpkg-query -W -f='${Status}' "$crate" 2>/dev/null | grep -q 'ok installed' || crates+=("$crate")
done
[ ${#crates[@]} -eq 0 ] || apt_install "${crates[@]}"

# Debian splits venv's pip bootstrap (ensurepip) into python3.X-venv. The README's
# install test also builds a venv from the system /usr/bin/python3 when there is one.
for py in "$PYTHON" /usr/bin/python3; do
  command -v "$py" >/dev/null 2>&1 || continue
  if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1 && command -v apt-get >/dev/null; then
    ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt_install "python$ver-venv"
  fi
done

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "tlskit needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)" >&2; exit 1; }
# A .venv that no longer runs (its interpreter was removed or upgraded) is made afresh.
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
then
  rm -rf .venv
  "$PYTHON" -m venv .venv
fi
PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/python -m pip install -q -e '.[test]'
# sslyze (a scanner run as a command, never imported) in its own venv: its cryptography<47
# pin must not hold back the cryptography tlskit is tested with.
if ! .venv-sslyze/bin/sslyze --help >/dev/null 2>&1; then
  rm -rf .venv-sslyze
  "$PYTHON" -m venv .venv-sslyze
  PIP_DISABLE_PIP_VERSION_CHECK=1 .venv-sslyze/bin/python -m pip install -q 'sslyze>=6,<7'
fi
# aioquic (the QUIC-TLS peer of tests/interop/test_quic_aioquic.py, driven by
# tests/support/aioquic_peer.py) in its own venv too: it pins a pyOpenSSL that holds
# cryptography below what tlskit is tested with.
if ! .venv-aioquic/bin/python -c 'import aioquic.tls' >/dev/null 2>&1; then
  rm -rf .venv-aioquic
  "$PYTHON" -m venv .venv-aioquic
  PIP_DISABLE_PIP_VERSION_CHECK=1 .venv-aioquic/bin/python -m pip install -q 'aioquic>=1.2,<2'
fi

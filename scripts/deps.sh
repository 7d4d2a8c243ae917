#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages frugal builds and tests with.
# Idempotent: when every package is already installed it does nothing and
# needs no network. Uses sudo when not root. FRUGAL_NO_DEPS=1 skips it (for
# machines whose packages are managed some other way).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev          # libFuzzer and sanitizer runtimes
  libpcre2-dev                      # tokenizer pre-splitting (UTF + Unicode properties)
  libicu-dev                        # WordPiece (BERT) tokenizer: decomposition, categories, case
  libsqlite3-dev                    # document store (FTS5)
  libpq-dev postgresql              # document store in PostgreSQL (--db postgresql://...) and its tests
  libjansson-dev                    # JSON
  libmicrohttpd-dev                 # HTTP server
  libcurl4-openssl-dev              # frugal pull
  nettle-dev                        # sha256 of downloaded models (frugal pull)
  libedit-dev                       # line editing in frugal chat
  libopenblas-dev                   # large F32 GEMMs in training
  poppler-utils                     # pdftotext for frugal index
  nodejs npm                        # the real OpenAI client in server tests
  curl                              # HTTP tests
  chromium                          # the web page's browser test (playwright-core drives it)
  nginx                             # replicas behind nginx (test; docs/nginx-replicas.conf)
  libopenmpi-dev openmpi-bin        # data-parallel tuning: mpirun -np N frugal tune
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # make test-aarch64: ARM kernels under qemu
)

if [ "${FRUGAL_NO_DEPS:-0}" = 1 ]; then exit 0; fi
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: not a Debian/Ubuntu system; install the equivalents of: ${PKGS[*]}" >&2
  exit 0
fi

missing=()
for p in "${PKGS[@]}"; do
  # nodejs/npm may come from NodeSource or nvm: a working binary is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# nginx is installed for the tests, which run it as a normal process with
# their own configuration. Debian's package would start a system nginx on
# port 80 (and fail to install if something else holds port 80): when it is
# new, a temporary policy-rc.d (Debian's switch for "do not start services
# from maintainer scripts") keeps it stopped, and the service is disabled
# so it does not start at boot either. An nginx already installed is left
# exactly as it was.
new_nginx=0
for p in "${missing[@]}"; do [ "$p" = nginx ] && new_nginx=1; done
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ "$new_nginx" = 1 ] && [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from frugal scripts/deps.sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
if [ "$new_nginx" = 1 ]; then
  if command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null 2>&1; then
    $SUDO update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
  [ "$own_policy" = 1 ] && $SUDO rm -f "$policy"
fi

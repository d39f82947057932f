#!/usr/bin/env bash
# Installs every Debian package the build, tests, fuzzers and benchmarks need.
# Idempotent: when everything is present it installs nothing. Works as root or via sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libssl-dev libsodium-dev libsqlite3-dev libasio-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libcpp-httplib-dev libboost1.74-dev
  libgtest-dev libgmock-dev sqlite3 iproute2 curl
  liblua5.4-dev libseccomp-dev libvalijson-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

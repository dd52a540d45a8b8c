#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# setup.sh: install the Debian 12 packages batlink needs (build; with --test also the test
# peers and tools). Works as root, or as a normal user through sudo. Installs only what is missing.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config git
            libmosquitto-dev libcjson-dev libinih-dev libmicrohttpd-dev)
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev clang-format cppcheck gcc-multilib
           can-utils python3-can mosquitto mosquitto-clients curl tshark socat
           qemu-system-x86 busybox-static zstd prometheus valgrind openssl iproute2
           chromium)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
    want+=("${test_pkgs[@]}")
fi

# npm (for the DBC check) may come with a Node.js that is not Debian's; take Debian's only when
# there is no npm at all.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null; then
    want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi
echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null

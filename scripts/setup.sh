#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# setup.sh: install the Debian 12 packages batlink needs (build; with --test also the test
# peers and tools; with --cross the arm64/armhf cross toolchains, the target architectures'
# -dev packages (multiarch), qemu-user and mmdebstrap, for scripts/package.sh and its tests).
# Works as root, or as a normal user through sudo. Installs only what is missing.
set -euo pipefail

# libgpiod2: batlink dlopens libgpiod.so.2 for `gpio:` lines (src/io/gpio.c); -dev for its header
build_pkgs=(build-essential cmake pkg-config git
            libmosquitto-dev libcjson-dev libinih-dev libmicrohttpd-dev libgpiod2 libgpiod-dev)
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev clang-format cppcheck
           can-utils python3-can mosquitto mosquitto-clients curl tshark socat
           qemu-system-x86 busybox-static zstd prometheus valgrind openssl iproute2 mmdebstrap
           chromium)

cross_arches=(arm64 armhf)
cross_pkgs=(crossbuild-essential-arm64 crossbuild-essential-armhf qemu-user mmdebstrap dpkg-dev)
for a in "${cross_arches[@]}"; do
    cross_pkgs+=(libmosquitto-dev:"$a" libcjson-dev:"$a" libinih-dev:"$a" libmicrohttpd-dev:"$a"
                 libcmocka-dev:"$a" libgpiod-dev:"$a")
done

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
    want+=("${test_pkgs[@]}")
fi
cross=0
if [[ "${1:-}" == "--cross" ]]; then
    cross=1
    want+=("${cross_pkgs[@]}")
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
# --cross: the target architectures must be known to dpkg before apt can see their packages
# (adding one that is there already changes nothing, but ask first so a run without changes
# needs no root).
if ((cross)); then
    for a in "${cross_arches[@]}"; do
        if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
            "${as_root[@]}" dpkg --add-architecture "$a"
        fi
    done
fi
echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null

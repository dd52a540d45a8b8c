#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-32bit.sh: compile the pure layers (core, proto, bms, site, control, diag) for a 32-bit target
# with the strict warning set, as the proof that they could run on a small microcontroller-class
# CPU (style.md rule 15). The target is 32-bit ARM (armhf, the Raspberry Pi's Debian port), with
# the cross compiler that `setup.sh --cross` installs: Debian's gcc-multilib (the -m32 route) and
# the cross compilers cannot be installed together. -m32 is the fallback where only multilib is.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if command -v arm-linux-gnueabihf-gcc >/dev/null; then
    cc=(arm-linux-gnueabihf-gcc)
else
    cc=(gcc -m32)
fi
flags=(-std=c11 -O2 -Iinclude -Isrc -Wall -Wextra -Werror -pedantic -Wconversion
       -Wsign-conversion -Wswitch-enum -Wdouble-promotion -Wfloat-equal -Wundef
       -Wmissing-declarations -Wcast-align -D_POSIX_C_SOURCE=200809L -DBL_VERSION='"32bit"')
n=0
for f in src/core/*.c src/proto/*.c src/bms/*.c src/control/*.c src/diag/*.c \
    $(compgen -G 'src/site/*.c' || true); do
    "${cc[@]}" "${flags[@]}" -c "$f" -o "$out/$(basename "$f" .c).o"
    n=$((n + 1))
done
ar rcs "$out/libbatlink_pure32.a" "$out"/*.o
echo "32-bit build of the pure layers (${cc[*]}): $n files, $(stat -c %s "$out/libbatlink_pure32.a") bytes"

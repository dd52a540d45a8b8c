#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# package.sh: build the Debian packages batlink_VERSION_ARCH.deb for amd64, arm64 and armhf (the
# Raspberry Pi) into OUTDIR.
#
#   scripts/package.sh [--test] OUTDIR [ARCH...]     ARCH: amd64 arm64 armhf (default: all three)
#
# Each architecture is built in build-pkg-ARCH (RelWithDebInfo, prefix /usr; arm64 and armhf with
# Debian's cross compilers through cmake/toolchain-*.cmake) and installed with `cmake --install
# --strip` into a staging tree, so whatever the build installs (program, modules, units, example
# config, share/batlink/) is what the package holds. Then DEBIAN/ is written and `dpkg-deb --build`
# makes the package, which is checked with `dpkg-deb --info/--contents`, and the staged program is
# run (scripts/pkg-smoke.sh; arm64/armhf under qemu-user).
#
# --test also builds the cmocka unit tests and runs them (ctest -R ^unit/; arm64/armhf under
# qemu-user through CMAKE_CROSSCOMPILING_EMULATOR). Cross builds need scripts/setup.sh --cross.
#
# Depends: dpkg-shlibdeps over every ELF file in the staging tree, with the target architecture's
# symbols files (the :arm64/:armhf library packages that the -dev packages bring). It follows
# whatever the build links -- also modules it adds later -- and gives each library the minimum
# version the symbols actually used need, which a list written by hand from pkg-config would not.
# The one exception is libgpiod2: batlink opens libgpiod.so.2 with dlopen (for `gpio:` lines,
# src/io/gpio.c), which dpkg-shlibdeps cannot see, so it is added by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

run_tests=0
if [[ "${1:-}" == "--test" ]]; then
    run_tests=1
    shift
fi
if (($# < 1)); then
    echo "usage: $0 [--test] OUTDIR [amd64|arm64|armhf...]" >&2
    exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
shift
arches=("$@")
((${#arches[@]})) || arches=(amd64 arm64 armhf)
jobs=$(nproc)
((jobs > 2)) && jobs=2 # the build machines are shared; two compilers keep it responsive

say() { echo "package: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

native=$(dpkg --print-architecture)
maintainer=${BL_PKG_MAINTAINER:-batlink developers <batlink@localhost>}
# The package's dates are the last commit's, so the same tree gives the same package bytes.
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

for arch in "${arches[@]}"; do
    t0=$(now)
    cross=()
    emu=()
    toolchain=
    qemu=
    case $arch in
    amd64)
        triplet=x86_64-linux-gnu machine="Advanced Micro Devices X86-64" ;;
    arm64)
        triplet=aarch64-linux-gnu machine=AArch64 toolchain=cmake/toolchain-aarch64.cmake
        qemu="qemu-aarch64" ;;
    armhf)
        triplet=arm-linux-gnueabihf machine=ARM toolchain=cmake/toolchain-armhf.cmake
        qemu="qemu-arm" ;;
    *) echo "$0: unknown architecture $arch (amd64, arm64, armhf)" >&2; exit 2 ;;
    esac
    if [[ "$arch" != "$native" ]]; then
        [[ -n "$toolchain" ]] || die "no toolchain file for $arch on a $native machine"
        command -v "$triplet-gcc" >/dev/null ||
            die "$triplet-gcc missing: scripts/setup.sh --cross installs the cross toolchains"
        cross=(-DCMAKE_TOOLCHAIN_FILE="$top/$toolchain")
        emu=("$qemu" -L "/usr/$triplet")
    fi

    b=build-pkg-$arch
    mkdir -p "$b"
    say "$arch: build in $b"
    cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
        -DBL_SANITIZE=OFF -DBL_TESTS=$((run_tests ? 1 : 0)) "${cross[@]}" >"$b/build.log" 2>&1 ||
        { cat "$b/build.log" >&2; die "$arch: cmake configure"; }
    cmake --build "$b" -j"$jobs" >>"$b/build.log" 2>&1 || { grep -B2 -A12 -m5 'error' "$b/build.log" >&2 || tail -n 40 "$b/build.log" >&2; die "$arch: build"; }
    if ((run_tests)); then
        say "$arch: unit tests${emu:+ under ${emu[0]}}"
        (cd "$b" && ctest -R '^unit/' -j"$jobs" --output-on-failure) >"$b/unit.log" 2>&1 ||
            { cat "$b/unit.log" >&2; die "$arch: unit tests"; }
        grep -E 'tests passed|tests failed' "$b/unit.log" | sed "s/^/package: $arch: /" >&2
        grep -q 'out of [1-9]' "$b/unit.log" || die "$arch: ctest ran no unit test"
    fi

    # -- the staging tree: exactly what `cmake --install` installs --------------------------
    stage=$top/$b/stage
    rm -rf "$stage"
    DESTDIR=$stage cmake --install "$b" --strip >"$b/install.log" ||
        die "$arch: cmake --install"
    [[ -x "$stage/usr/bin/batlink" ]] || die "$arch: cmake --install made no usr/bin/batlink"
    install -d "$stage/usr/share/doc/batlink"
    { echo "batlink: a toolkit and daemon for the CAN link between a battery and an inverter."
      echo
      cat LICENSE; } >"$stage/usr/share/doc/batlink/copyright"
    chmod 644 "$stage/usr/share/doc/batlink/copyright"

    version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$b/CMakeCache.txt")
    [[ -n "$version" ]] || die "$arch: no project version in $b/CMakeCache.txt"
    { echo "batlink ($version) unstable; urgency=medium"
      echo
      echo "  * Built from the batlink source tree at commit $commit."
      echo
      echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"; } |
        gzip -9n >"$stage/usr/share/doc/batlink/changelog.gz"
    chmod 644 "$stage/usr/share/doc/batlink/changelog.gz"
    touch -d "@$SOURCE_DATE_EPOCH" "$stage/usr/share/doc/batlink"/*

    # -- Depends from the ELF files' libraries (see the head of this file) ------------------
    mapfile -t elves < <(find "$stage" -type f -exec sh -c \
        'head -c4 "$1" | grep -q "^.ELF" && echo "$1"' sh {} \; | sort)
    ((${#elves[@]})) || die "$arch: no ELF file staged"
    shl=$(mktemp -d)
    mkdir "$shl/debian"
    printf 'Source: batlink\n\nPackage: batlink\nArchitecture: any\n' >"$shl/debian/control"
    deps=$(cd "$shl" && CC=$triplet-gcc dpkg-architecture -a"$arch" -f -c \
        dpkg-shlibdeps -O -l"/usr/lib/$triplet" "${elves[@]}" 2>"$shl/err") ||
        { cat "$shl/err" >&2; die "$arch: dpkg-shlibdeps"; }
    # (the staging tree is not debian/PACKAGE/, which dpkg-shlibdeps warns about: harmless)
    grep -v "should already be installed in their package's directory" "$shl/err" >&2 || true
    rm -rf "$shl"
    deps=${deps#shlibs:Depends=}
    [[ "$deps" == *libc6* ]] || die "$arch: dpkg-shlibdeps found no libc6 dependency: '$deps'"

    # -- DEBIAN/ ------------------------------------------------------------------------------
    install -d "$stage/DEBIAN"
    size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
    cat >"$stage/DEBIAN/control" <<CONTROL
Package: batlink
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $deps, adduser, libgpiod2
Section: net
Priority: optional
Description: battery <-> inverter CAN link monitor, bridge and diagnosis
 batlink watches the CAN bus between a home battery and a solar inverter
 (SocketCAN, CAN-to-Ethernet converters, slcan adapters, logs) and shows the
 battery's state, limits and alarms on the terminal, over MQTT with Home
 Assistant discovery and over HTTP; it diagnoses link problems and can bridge
 a JK BMS to an inverter that expects a Pylontech battery.
 .
 The systemd units batlink-monitor and batlink-bridge are installed but not
 enabled; the configuration is /etc/batlink/batlink.ini.
CONTROL
    (cd "$stage" && find etc -type f 2>/dev/null | sed 's|^|/|' | sort) >"$stage/DEBIAN/conffiles"
    [[ -s "$stage/DEBIAN/conffiles" ]] || rm -f "$stage/DEBIAN/conffiles"
    install -m 755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm \
        "$stage/DEBIAN/"
    (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
        xargs -0 md5sum) >"$stage/DEBIAN/md5sums"

    deb=$out/batlink_${version}_$arch.deb
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null

    # -- checks --------------------------------------------------------------------------------
    info=$(dpkg-deb --info "$deb")
    for want in "Package: batlink" "Version: $version" "Architecture: $arch" "Depends: .*libc6" \
        "Depends: .*adduser" "Depends: .*libgpiod2" " postinst" " conffiles"; do
        grep -q -- "$want" <<<"$info" || { echo "$info" >&2; die "$arch: --info lacks '$want'"; }
    done
    [[ "$(dpkg-deb -f "$deb" Depends)" != *":"* ]] || die "$arch: Depends names an architecture"
    contents=$(dpkg-deb --contents "$deb")
    for want in ./usr/bin/batlink ./etc/batlink/batlink.ini \
        ./usr/lib/systemd/system/batlink-monitor.service \
        ./usr/lib/systemd/system/batlink-bridge.service ./usr/share/batlink/ \
        ./usr/share/doc/batlink/copyright; do
        grep -q " $want\$" <<<"$contents" || { echo "$contents" >&2; die "$arch: no $want"; }
    done
    grep -q '^-rwxr-xr-x root/root .* ./usr/bin/batlink$' <<<"$contents" ||
        die "$arch: usr/bin/batlink is not root-owned 0755"
    [[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)" == /etc/batlink/batlink.ini ]] ||
        die "$arch: /etc/batlink/batlink.ini is not the conffile"
    for f in "${elves[@]}"; do
        m=$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')
        [[ "$m" == "$machine" ]] || die "$arch: ${f#"$stage"} is for '$m', not '$machine'"
    done
    # The units as systemd reads them, with ExecStart pointed at the staged program (the
    # installed units are checked where systemd looks by scripts/package-install-test.sh).
    if command -v systemd-analyze >/dev/null; then
        units=$(mktemp -d)
        for u in "$stage"/usr/lib/systemd/system/*.service; do
            sed "s|^ExecStart=/usr/bin/batlink |ExecStart=$stage/usr/bin/batlink |" "$u" \
                >"$units/$(basename "$u")"
        done
        # any message fails: an unknown or misspelt key is only a warning to systemd
        if ! systemd-analyze verify "$units"/*.service >"$units/log" 2>&1 || [[ -s "$units/log" ]]
        then
            cat "$units/log" >&2
            die "$arch: systemd-analyze verify of the units"
        fi
        rm -rf "$units"
    fi
    scripts/pkg-smoke.sh "${emu[@]}" "$stage/usr/bin/batlink" ||
        die "$arch: the staged batlink does not work${emu:+ under ${emu[0]}}"
    say "$arch: $(basename "$deb"): $(stat -c %s "$deb") bytes, installed $size KiB, Depends: $deps, adduser, libgpiod2 ($(since "$t0") s)"
done

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh: SocketCAN for real. Boots Debian's own kernel (linux-image-amd64, fetched with apt-get
# download and cached in tests/vm/cache/) in qemu-system-x86_64 with a busybox initramfs that
# carries batlink and can-utils, runs tests/vm/guest.sh against vcan0 and checks its result lines.
#
# Environment (ctest sets the first three): BATLINK, BL_SOURCE_DIR, BL_BUILD_DIR;
# optional: BL_VM_ACCEL (tcg | kvm; default tcg, which works everywhere, also nested),
# BL_VM_TIMEOUT (seconds, default 120), BL_VM_CACHE (default tests/vm/cache),
# BL_VM_ONLY (space-separated test names to run; "bench_wakeups" runs only when named here),
# BL_VM_CARRY (extra HOST=GUEST programs), BL_VM_EXPECT_FAIL (test name whose
# expectation the guest deliberately inverts: proves a wrong answer is caught).
# Exit: 0 all passed, 1 a test failed / timeout / VM crashed, 77 skipped (qemu or kernel missing).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${BL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${BL_BUILD_DIR:-$src/build}
batlink=${BATLINK:-$build/batlink}
cache=${BL_VM_CACHE:-$here/cache}
work=$build/vm-socketcan
timeout_s=${BL_VM_TIMEOUT:-120}
accel=${BL_VM_ACCEL:-tcg}
t0=$(date +%s.%N)

say() { echo "vm/socketcan: $*" >&2; }
skip() {
    echo "vm/socketcan: SKIPPED: $*" >&2
    exit 77
}
die() {
    echo "vm/socketcan: FAIL: $*" >&2
    exit 1
}

# ---- can qemu run here at all? (the only reasons to skip)
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (scripts/setup.sh --test)"
qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg || skip "this qemu has no TCG accelerator"

# ---- everything else is required: its absence is a failure, not a skip
[[ -x "$batlink" ]] || die "BATLINK=$batlink is not an executable"
busybox=$(command -v busybox || true)
[[ -n "$busybox" ]] || die "busybox not found (Debian package busybox-static)"
if command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
    die "$busybox is not static (install busybox-static)"
fi
for t in candump cansend; do
    command -v "$t" >/dev/null || die "$t not found (scripts/setup.sh --test)"
done

# ---- kernel: Debian's linux-image-amd64 (a metapackage) -> linux-image-<abi>-amd64, cached
mkdir -p "$cache" "$work"
# one fetch/extract at a time when several build trees run this test at once
exec 9>"$cache/.lock"
flock 9
deb=$(ls "$cache"/linux-image-[0-9]*-amd64_*.deb 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z "$deb" ]]; then
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [[ -n "$pkg" ]] || skip "cannot resolve linux-image-amd64 (apt-cache) and no cached kernel in $cache"
    say "fetching $pkg with apt-get download into $cache"
    (cd "$cache" && apt-get download -q "$pkg" >/dev/null 2>"$work/apt.err") ||
        skip "apt-get download $pkg failed and no cached kernel: $(tail -n1 "$work/apt.err")"
    deb=$(ls "$cache"/linux-image-[0-9]*-amd64_*.deb | sort -V | tail -n1)
fi
kdir=$cache/$(basename "$deb" .deb)
mods=(kernel/net/can/can.ko kernel/net/can/can-raw.ko kernel/drivers/net/can/dev/can-dev.ko
    kernel/drivers/net/can/vcan.ko)
if [[ ! -f "$kdir/.complete" ]]; then
    say "extracting vmlinuz and the CAN modules from $(basename "$deb")"
    rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
    # Debian 12 ships plain .ko; later kernels may use .ko.xz/.ko.zst: take whichever exists
    dpkg-deb --fsys-tarfile "$deb" |
        tar -x -C "$kdir.tmp" --wildcards './boot/vmlinuz-*' \
            $(for m in "${mods[@]}"; do printf "./lib/modules/*/%s* " "$m"; done)
    mkdir -p "$kdir.tmp/mods"
    mv "$kdir.tmp"/boot/vmlinuz-* "$kdir.tmp/vmlinuz"
    for m in "${mods[@]}"; do
        f=$(ls "$kdir.tmp"/lib/modules/*/"$m"* | head -n1)
        case "$f" in
        *.ko) cp "$f" "$kdir.tmp/mods/" ;;
        *.ko.xz) xz -dc "$f" >"$kdir.tmp/mods/$(basename "$m")" ;;
        *.ko.zst) zstd -qdc "$f" >"$kdir.tmp/mods/$(basename "$m")" ;;
        *) die "module $m not found in $deb" ;;
        esac
    done
    rm -rf "$kdir.tmp/boot" "$kdir.tmp/lib" "$kdir"
    touch "$kdir.tmp/.complete"
    mv "$kdir.tmp" "$kdir"
fi

flock -u 9

# ---- initramfs: busybox, modules, batlink and can-utils with their shared libraries
root=$work/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc,mods,lib64,lib/x86_64-linux-gnu,usr/bin}
cp "$busybox" "$root/bin/busybox"
cp "$kdir"/mods/*.ko "$root/mods/"
cp "$here/init" "$root/init"
cp "$here/guest.sh" "$root/guest.sh"
chmod 755 "$root/init" "$root/guest.sh"

# batlink links libmosquitto, libcjson and libmicrohttpd, of which Debian ships no static
# archives (libmosquitto.a, libcjson.a), so a static batlink cannot be linked: carry the
# dynamic binary (as built, sanitizers included) with every library ldd lists and the ELF
# interpreter, at their host paths.
carry() {
    local bin=$1 dest=$2
    cp "$bin" "$root$dest"
    ldd "$bin" | awk '/=> \// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        [[ -e "$root$lib" ]] || cp -L "$lib" "$root$lib"
    done
}
carry "$batlink" /usr/bin/batlink
# the output modules batlink loads from its own directory (src/app/outmod.c), with their libraries
for mod in "$(dirname "$batlink")"/batlink-*.so; do
    if [[ -e $mod ]]; then carry "$mod" "/usr/bin/$(basename "$mod")"; fi
done
# the unit test of the transport has live cases that need a vcan interface: run them here too
if [[ -x "$build/tests/test_socketcan" ]]; then
    carry "$build/tests/test_socketcan" /usr/bin/test_socketcan
fi
# BL_VM_CARRY="HOSTPATH=GUESTPATH ...": more programs for a benchmark (bench/vm_monitor_bench.sh)
for extra in ${BL_VM_CARRY:-}; do
    carry "${extra%%=*}" "${extra#*=}"
done
for t in candump cansend cangen; do
    if command -v "$t" >/dev/null; then carry "$(command -v "$t")" "/usr/bin/$t"; fi
done
{
    echo "BL_VM_ONLY='${BL_VM_ONLY:-}'"
    echo "BL_VM_EXPECT_FAIL='${BL_VM_EXPECT_FAIL:-}'"
    echo "ASAN_OPTIONS='${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}'"
    echo "UBSAN_OPTIONS='${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}'"
} >"$root/etc/blvm.env"
# uncompressed cpio newc: measured, gzip -6 costs 1.5 s on the host (34 MiB -> 13 MiB) and
# saves nothing at boot (5.7 s either way under TCG)
# (busybox's own cpio applet, so the host needs no cpio package)
(cd "$root" && find . | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) >"$work/initramfs.cpio"

# ---- boot
case "$accel" in
tcg) qemu_accel=(-accel tcg -cpu max) ;;
kvm) qemu_accel=(-accel kvm -cpu host) ;;
*) die "BL_VM_ACCEL=$accel: expected tcg or kvm" ;;
esac
log=$work/console.log
t1=$(date +%s.%N)
say "booting $(basename "$kdir") ($accel, initramfs $(($(stat -c %s "$work/initramfs.cpio") / 1048576)) MiB); console in $log"
set +e
timeout --foreground "$timeout_s" qemu-system-x86_64 "${qemu_accel[@]}" -m 1024 -smp 2 \
    -nographic -no-reboot -nodefaults -serial stdio -monitor none \
    -kernel "$kdir/vmlinuz" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init" </dev/null >"$log" 2>&1
qrc=$?
set -e
t2=$(date +%s.%N)
tr -d '\r' <"$log" >"$log.txt"

grep '^BLVM' "$log.txt" >&2 || true
npass=$(grep -c '^BLVM-RESULT .* PASS' "$log.txt" || true)
nfail=$(grep -c '^BLVM-RESULT .* FAIL' "$log.txt" || true)
end=$(grep '^BLVM-END' "$log.txt" | tail -n1 || true)
times=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {printf "prepare %.1f s, boot+tests %.1f s", b - a, c - b}')
if [[ $qrc -eq 124 ]]; then
    tail -n 40 "$log.txt" >&2
    die "timeout after ${timeout_s}s ($times)"
fi
if [[ -z "$end" ]]; then
    tail -n 40 "$log.txt" >&2
    die "the guest did not finish (qemu exit $qrc; $times)"
fi
read -r _ gpass gfail <<<"$end"
if [[ "$gpass" != "$npass" || "$gfail" != "$nfail" ]]; then
    die "result lines garbled: END says $gpass/$gfail, counted $npass/$nfail (see $log.txt)"
fi
if ((nfail > 0 || npass == 0)); then
    die "$nfail failed, $npass passed ($times; console in $log.txt)"
fi
say "PASS: $npass tests ($times, $accel)"

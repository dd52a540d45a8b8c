#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# package-install-test.sh: install a batlink package in a fresh Debian 12 root, as a user would
# (`apt install ./batlink_*.deb`), and check that it works there:
#   - apt resolves every dependency from Debian (the Depends are complete), postinst creates
#     the system user batlink, /etc/batlink/batlink.ini is a conffile;
#   - batlink --version, and `monitor --http` on the simulator answers /api/state
#     (scripts/pkg-smoke.sh: the program finds everything it loads at run time);
#   - the user batlink runs the service's command with the shipped configuration;
#   - with systemd installed: `systemctl enable batlink-monitor` makes its link and
#     `systemd-analyze verify` accepts both units where systemd looks for them (systemd cannot
#     run in a chroot, so the service is not started);
#   - a reinstall keeps the owner's edit of the conffile and the enable link;
#   - purge removes the enable link and the config, and keeps the user (Debian's practice).
#
#   scripts/package-install-test.sh OUTDIR/batlink_VERSION_amd64.deb
#
# Exit status: 0 ok, 1 failed, 77 skipped (not root, no mmdebstrap). The base root is the one
# scripts/fresh-root.sh caches, made by the same code (scripts/lib/rootfs.sh: $BL_ROOT_CACHE,
# default /var/cache/batlink/rootfs/bookworm-minbase.tar, rebuilt after $BL_ROOT_MAX_AGE days);
# downloaded packages are shared with the host's apt archive (the same Debian release) or kept in
# $BL_ROOT_DEBS.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

say() { echo "package-install-test: $*" >&2; }
# shellcheck source=scripts/lib/rootfs.sh
. scripts/lib/rootfs.sh
if (($# != 1)) || [[ ! -f "$1" ]]; then
    echo "usage: $0 PACKAGE.deb" >&2
    exit 2
fi
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

if [[ $(id -u) -ne 0 ]]; then
    say "SKIPPED: needs root (chroot, mounts)"
    exit 77
fi
for tool in mmdebstrap unshare chroot flock curl python3; do
    command -v "$tool" >/dev/null || { say "SKIPPED: $tool not installed (scripts/setup.sh --cross)"; exit 77; }
done
[[ "$(dpkg-deb -f "$deb" Architecture)" == "$(dpkg --print-architecture)" ]] ||
    { say "SKIPPED: $deb is not for this machine's architecture"; exit 77; }

# -- the base root, cached (shared with scripts/fresh-root.sh) -----------------------------------
t0=$(now)
rootfs_base
rootfs_debs
rootfs_work batlink-pkg-root
tar -C "$root" -xf "$base"
cp "$deb" "$root/root/"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
say "root ready ($(since "$t0") s)"

# Runs in a private mount and PID namespace (mounts and leftovers end with it); the network is the
# host's, so apt reaches Debian and the smoke test's curl reaches the monitor on 127.0.0.1.
inside() {
    set -euo pipefail
    root=$1 debs=$2 top=$3 pkg=$4
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --bind "$debs" "$root/var/cache/apt/archives"
    in_root() {
        chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb DEBIAN_FRONTEND=noninteractive \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -ec "$1"
    }
    step() { echo "-- $*"; }
    step "apt install ./$pkg"
    in_root "apt-get update -qq && apt-get install -y -qq --no-install-recommends ./root/$pkg >/dev/null"
    in_root "dpkg -s batlink | grep -q '^Status: install ok installed'"
    in_root "getent passwd batlink" | grep -q '^batlink:' || { echo "no user batlink"; exit 1; }
    in_root "dpkg-query -W -f='\${Conffiles}' batlink" | grep -q /etc/batlink/batlink.ini ||
        { echo "/etc/batlink/batlink.ini is no conffile"; exit 1; }
    step "batlink --version; monitor --http sim:"
    "$top/scripts/pkg-smoke.sh" chroot "$root" /usr/bin/batlink
    step "the service's command as the user batlink, with the shipped /etc/batlink/batlink.ini"
    chroot --userspec=batlink:batlink "$root" /usr/bin/batlink monitor \
        --config /etc/batlink/batlink.ini --duration 2 >/dev/null
    step "with systemd: systemctl enable batlink-monitor; systemd-analyze verify"
    in_root "apt-get install -y -qq --no-install-recommends systemd >/dev/null"
    in_root "systemctl enable batlink-monitor.service"
    in_root "test -L /etc/systemd/system/multi-user.target.wants/batlink-monitor.service"
    in_root "systemctl is-enabled batlink-monitor.service"
    # any message fails: an unknown or misspelt key is only a warning to systemd
    msg=$(in_root "systemd-analyze verify batlink-monitor.service batlink-bridge.service 2>&1" ||
        echo "(exit status $?)")
    if [[ -n "$msg" ]]; then
        echo "$msg"
        echo "systemd-analyze verify complained"
        exit 1
    fi
    step "reinstall (as an upgrade does): the user's edit of the conffile stays"
    in_root "echo '# edited by the owner' >>/etc/batlink/batlink.ini"
    in_root "dpkg -i /root/$pkg >/dev/null"
    in_root "tail -n 1 /etc/batlink/batlink.ini" | grep -qx '# edited by the owner' ||
        { echo "the edited /etc/batlink/batlink.ini was replaced"; exit 1; }
    in_root "systemctl is-enabled batlink-monitor.service"
    step "apt purge batlink"
    in_root "apt-get purge -y -qq batlink >/dev/null"
    in_root "test ! -e /usr/bin/batlink && test ! -e /etc/batlink/batlink.ini"
    in_root "test ! -e /etc/systemd/system/multi-user.target.wants/batlink-monitor.service"
    in_root "getent passwd batlink >/dev/null"
    echo "-- ok"
}
log=$work/log
t1=$(now)
timeout --kill-after=10 "$limit" unshare --mount --propagation private --pid --fork --kill-child \
    bash -c "$(declare -f inside); inside \"\$@\"" inside "$root" "$debs" "$top" "$(basename "$deb")" \
    >"$log" 2>&1 &
child=$!
rc=0
wait "$child" || rc=$?
child=
if ((rc != 0)); then
    tail -n 40 "$log" >&2
    say "FAIL: $(basename "$deb") in a fresh $suite (exit $rc, $(since "$t1") s)"
    exit 1
fi
grep -E '^(--|pkg-smoke:|Created symlink|enabled$)' "$log" >&2
say "ok: $(basename "$deb") installs and works in a fresh $suite ($(since "$t1") s, total $(since "$t0") s)"

# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# rootfs.sh: the fresh Debian root that scripts/fresh-root.sh and scripts/package-install-test.sh
# work in, sourced by both so that they share one cached base, one lock and one mmdebstrap command.
# The caller defines say() (its messages carry the caller's name) and has `set -euo pipefail`.
#
# Settings (environment):
#   BL_ROOT_SUITE     Debian suite (default bookworm)
#   BL_ROOT_VARIANT   mmdebstrap variant (default minbase: essential packages and apt, nothing else)
#   BL_ROOT_MIRROR, BL_ROOT_SECURITY   the archives
#   BL_ROOT_CACHE     where the base tarball lives (default /var/cache/batlink/rootfs), one per
#                     suite and variant: $BL_ROOT_CACHE/SUITE-VARIANT.tar
#   BL_ROOT_MAX_AGE   rebuild the base when it is older than this many days (default 7)
#   BL_ROOT_TIMEOUT   seconds the caller's command may run (default 900)
#   BL_ROOT_DEBS      where downloaded packages are kept between runs; by default the host's own
#                     apt archive when the host runs the same Debian release, otherwise
#                     $BL_ROOT_CACHE/apt-SUITE

suite=${BL_ROOT_SUITE:-bookworm}
variant=${BL_ROOT_VARIANT:-minbase}
mirror=${BL_ROOT_MIRROR:-http://deb.debian.org/debian}
security=${BL_ROOT_SECURITY:-http://deb.debian.org/debian-security}
cache=${BL_ROOT_CACHE:-/var/cache/batlink/rootfs}
max_age=${BL_ROOT_MAX_AGE:-7}
# shellcheck disable=SC2034 # read by the callers
limit=${BL_ROOT_TIMEOUT:-900}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# rootfs_base: make sure the cached base root is there and fresh; sets base (the tarball's path).
rootfs_base() {
    mkdir -p "$cache"
    base=$cache/$suite-$variant.tar
    (
        flock 9
        if [[ -f "$base" ]] && [[ -z $(find "$base" -mtime +"$max_age") ]]; then
            exit 0
        fi
        say "creating the base root $base (mmdebstrap --variant=$variant $suite)"
        # Package lists are kept so that an `apt-get update` in the root fetches only what changed.
        rm -rf --one-file-system "$base.new"
        mmdebstrap --quiet --format=tar --variant="$variant" --skip=cleanup/apt/lists "$suite" "$base.new" \
            "deb $mirror $suite main" "deb $mirror $suite-updates main" \
            "deb $security $suite-security main"
        mv -f "$base.new" "$base"
    ) 9>"$cache/.lock"
}

# rootfs_debs: sets debs, the directory bound over the root's /var/cache/apt/archives.
rootfs_debs() {
    local host_codename
    host_codename=$( (. /etc/os-release && echo "${VERSION_CODENAME:-}") 2>/dev/null || true)
    if [[ -n "${BL_ROOT_DEBS:-}" ]]; then
        debs=$BL_ROOT_DEBS
        mkdir -p "$debs/partial"
    elif [[ "$host_codename" == "$suite" && -d /var/cache/apt/archives/partial ]]; then
        debs=/var/cache/apt/archives
    else
        debs=$cache/apt-$suite
        mkdir -p "$debs/partial"
    fi
}

# rootfs_work PREFIX: a temporary directory /var/tmp/PREFIX.XXXXXX (sets work) holding an empty
# root directory (sets root), removed on every exit. The caller puts the pid of the command it
# runs in the root into child while it runs; on exit the command is stopped first (its
# namespaces, and so its mounts, end with it), then the directory is removed: --one-file-system
# guards against deleting through a leftover mount.
rootfs_work() {
    work=$(mktemp -d "/var/tmp/$1.XXXXXX")
    child=
    trap rootfs_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
    root=$work/root
    mkdir "$root"
}
rootfs_cleanup() {
    if [[ -n "$child" ]]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    rm -rf --one-file-system "$work"
}

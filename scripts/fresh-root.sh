#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fresh-root.sh: prove that the README's Quick start works on a brand-new Debian 12. It runs the
# first command of the Quick start (read from README.md, so the two cannot drift apart) as root
# in a fresh minimal Debian root made with mmdebstrap, on a copy of the tree as a fresh clone has
# it, and fails if the command fails.
#
#   scripts/fresh-root.sh          the files git tracks, as they are in the work tree (in CI, a
#                                  fresh clone, that is exactly HEAD; locally it includes edits
#                                  not yet committed, but never build directories or caches)
#   scripts/fresh-root.sh REV      `git archive REV` instead, e.g. to show that an old commit fails
#
# Exit status: 0 the command worked, 1 it failed, 77 skipped (not root, no mmdebstrap).
#
# The base root (Debian's "minbase" variant: essential packages and apt, nothing else) is cached
# as a tarball in $BL_ROOT_CACHE (default /var/cache/batlink/rootfs), one per suite and variant,
# and rebuilt when it is older than $BL_ROOT_MAX_AGE days (default 7). Downloaded packages are
# kept between runs: the host's own apt archive is shared when the host runs the same Debian
# release, otherwise $BL_ROOT_CACHE/apt-<suite> ($BL_ROOT_DEBS overrides both); all of this is
# scripts/lib/rootfs.sh, shared with scripts/package-install-test.sh. Mounts live in a private
# mount namespace and go away with it; the temporary root is removed on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

# shellcheck source=scripts/lib/rootfs.sh
. scripts/lib/rootfs.sh
rev=${1:-}

say() { echo "fresh-root: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    say "SKIPPED: needs root (chroot, mounts); run as root to check the Quick start on a fresh $suite"
    exit 77
fi
for tool in mmdebstrap unshare chroot flock; do
    if ! command -v "$tool" >/dev/null; then
        say "SKIPPED: $tool not installed (scripts/setup.sh --test installs it)"
        exit 77
    fi
done

# The Quick start's first command: the first line of the first ```sh block after its heading
# (from REV's README when a REV is given).
if [[ -n "$rev" ]]; then
    readme() { git show "$rev:README.md"; }
else
    readme() { cat README.md; }
fi
# awk reads to the end: leaving early would cut the pipe under a README longer than the pipe's
# buffer, and pipefail would turn the writer's SIGPIPE into a failure (exit 141)
cmd=$(readme | awk '/^## Quick start/ { q = 1; next }
           q && /^## / { q = 0 }
           q && !done && /^```sh/ { getline; print; done = 1 }')
if [[ -z "$cmd" ]]; then
    say "FAIL: no \`\`\`sh block under '## Quick start' in README.md"
    exit 1
fi

# -- the base root, cached ------------------------------------------------------------------
t0=$(now)
rootfs_base
say "base root ready ($(since "$t0") s)"
# Downloaded packages are shared between runs.
rootfs_debs

# -- a fresh root with a copy of the tree ----------------------------------------------------
rootfs_work batlink-fresh-root
t1=$(now)
tar -C "$root" -xf "$base"
mkdir -p "$root/root/batlink"
if [[ -n "$rev" ]]; then
    say "tree: git archive $rev"
    git archive "$rev" | tar -C "$root/root/batlink" -xf -
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    say "tree: the files git tracks, from the work tree"
    git ls-files -z --cached --deduplicate |
        while IFS= read -r -d '' f; do [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"; done |
        tar -C "$top" --null -T - -cf - | tar -C "$root/root/batlink" -xf -
else
    say "tree: not a git work tree; copying it without build directories"
    tar -C "$top" --exclude='./build*' --exclude='./tests/vm/cache' -cf - . |
        tar -C "$root/root/batlink" -xf -
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
say "root ready ($(since "$t1") s)"

# -- run the command -------------------------------------------------------------------------
say "running in a fresh $suite ($variant): $cmd"
log=$work/log
t2=$(now)
# unshare: a private mount namespace and PID namespace, so the mounts and anything the command
# leaves running end with it (--kill-child), whatever way this script exits. It runs in the
# background so that a signal to this script is handled at once (cleanup stops it).
timeout --kill-after=10 "$limit" unshare --mount --propagation private --pid --fork --kill-child \
    bash -c '
        set -e
        root=$1 debs=$2 cmd=$3
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount --bind "$debs" "$root/var/cache/apt/archives"
        exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            /bin/bash -c "cd /root/batlink && $cmd"
    ' fresh-root "$root" "$debs" "$cmd" >"$log" 2>&1 &
child=$!
rc=0
wait "$child" || rc=$?
child=
took=$(since "$t2")
if [[ $rc -ne 0 ]]; then
    tail -n 40 "$log" >&2
    [[ $rc -eq 124 ]] && say "timed out after $limit s"
    say "FAIL: the Quick start's first command exited $rc on a fresh $suite ($took s)"
    exit 1
fi
grep -E '^(setup.sh:|-- Tests)' "$log" >&2 || true
tail -n 3 "$log" >&2
say "ok: the Quick start's first command works on a fresh $suite (command $took s, total $(since "$t0") s)"

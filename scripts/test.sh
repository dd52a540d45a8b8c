#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test.sh: every test of batlink -- unit and integration tests (real peers, the SocketCAN VM)
# under AddressSanitizer + UndefinedBehaviorSanitizer, the format check, cppcheck and a short
# libFuzzer run of every parser. This is exactly what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/setup.sh --test

echo "== build (ASan + UBSan) and tests"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DBL_SANITIZE=ON -DBL_TESTS=ON >/dev/null
cmake --build build-test -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-test && ctest --output-on-failure -j"$jobs")

echo "== format check"
clang-format --dry-run --Werror $(git ls-files '*.c' '*.h')

echo "== cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
    --std=c11 -I include -I src --suppress=missingIncludeSystem src

echo "== every build type builds (-Wall -Wextra -Werror in each)"
for type in Debug Release MinSizeRel RelWithDebInfo; do
    echo "-- $type"
    cmake -S . -B "build-type-$type" -DCMAKE_BUILD_TYPE="$type" -DBL_TESTS=OFF >/dev/null
    cmake --build "build-type-$type" -j"$jobs" --target batlink >/dev/null
done

echo "== the Quick start's first command in a fresh Debian 12 root (scripts/fresh-root.sh)"
rc=0
scripts/fresh-root.sh || rc=$?
if ((rc == 77)); then
    echo "-- SKIPPED (see the reason above): the Quick start was not checked on a fresh root"
elif ((rc != 0)); then
    exit "$rc"
fi

echo "== packages: amd64, arm64, armhf (cross-built; unit tests of arm64/armhf under qemu-user)"
scripts/setup.sh --cross
rm -rf build-pkg-out
scripts/package.sh --test build-pkg-out amd64 arm64 armhf
rc=0
scripts/package-install-test.sh build-pkg-out/batlink_*_amd64.deb || rc=$?
if ((rc == 77)); then
    echo "-- SKIPPED (see the reason above): the amd64 package was not installed in a fresh root"
elif ((rc != 0)); then
    exit "$rc"
fi


echo "== 32-bit build of the pure layers"
scripts/check-32bit.sh

echo "== fuzz (short libFuzzer runs over the stored corpora)"
scripts/fuzz.sh "${BL_FUZZ_RUNS:-100000}"

echo "== all tests passed"

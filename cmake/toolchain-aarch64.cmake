# SPDX-License-Identifier: MIT
# toolchain-aarch64.cmake: cross-build batlink for 64-bit Arm (Debian arm64: Raspberry Pi 3/4/5
# with a 64-bit OS) with Debian's cross toolchain (crossbuild-essential-arm64) and the arm64
# multiarch -dev packages (scripts/setup.sh --cross installs both). Tests run under qemu-user.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
set(BL_CROSS_TRIPLET aarch64-linux-gnu)
set(BL_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)

# SPDX-License-Identifier: MIT
# toolchain-armhf.cmake: cross-build batlink for 32-bit Arm hard-float (Debian armhf: Raspberry Pi
# OS 32-bit, Pi 2 and later) with Debian's cross toolchain (crossbuild-essential-armhf) and the
# armhf multiarch -dev packages (scripts/setup.sh --cross installs both). Tests run under qemu-user.
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-armhf.cmake
set(BL_CROSS_TRIPLET arm-linux-gnueabihf)
set(BL_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)

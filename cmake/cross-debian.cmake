# SPDX-License-Identifier: MIT
# cross-debian.cmake: the part of the toolchain files shared by every Debian cross target. Needs
# BL_CROSS_TRIPLET (the GNU triplet, e.g. aarch64-linux-gnu) and BL_CROSS_QEMU (the qemu-user
# binary that runs the target's programs on the build machine).
set(CMAKE_SYSTEM_NAME Linux)
string(REGEX REPLACE "-.*" "" CMAKE_SYSTEM_PROCESSOR ${BL_CROSS_TRIPLET})
set(CMAKE_C_COMPILER ${BL_CROSS_TRIPLET}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${BL_CROSS_TRIPLET})

# Debian's multiarch layout: the target's libraries and .pc files live under /usr/lib/TRIPLET on
# the build machine itself, so there is no separate sysroot. pkg-config must see only the
# target's .pc files (never the build machine's, whose -L paths would link the wrong arch).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${BL_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(PKG_CONFIG_EXECUTABLE pkg-config CACHE FILEPATH "pkg-config for the target")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_FIND_ROOT_PATH /usr/${BL_CROSS_TRIPLET} /usr)

# ctest runs the target's programs (the unit tests) through qemu-user; -L points it at the
# target's dynamic loader and libc that libc6-TARGET-cross put in /usr/TRIPLET, the other libraries
# are found in /usr/lib/TRIPLET through the loader's multiarch search path.
find_program(BL_QEMU_USER ${BL_CROSS_QEMU})
if(BL_QEMU_USER)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BL_QEMU_USER};-L;/usr/${BL_CROSS_TRIPLET})
endif()

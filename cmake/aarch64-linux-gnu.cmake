# Cross-compiling for 64-bit ARM Linux with Debian's gcc-aarch64-linux-gnu
# (scripts/deps.sh installs it with qemu-user). Tests run under qemu-aarch64:
# the CPU model comes from QEMU_CPU (cortex-a53: NEON only; cortex-a76:
# + dotprod; max: + i8mm), the target's libraries from /usr/aarch64-linux-gnu.
# Used by `make test-aarch64` with -DFRUGAL_CORE_ONLY=ON.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(FR_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${FR_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;${FR_AARCH64_SYSROOT})

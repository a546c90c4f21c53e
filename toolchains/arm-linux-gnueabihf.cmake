# Cross toolchain: 32-bit ARM hard-float Linux (BeagleBone Black, Raspberry Pi OS 32-bit) with
# Debian's cross compilers and multiarch libraries.
#
# Host setup (Debian 12), once:
#   sudo dpkg --add-architecture armhf && sudo apt-get update
#   sudo apt-get install g++-arm-linux-gnueabihf pkg-config qemu-user \
#     libboost-dev:armhf libmbedtls-dev:armhf libssl-dev:armhf libpaho-mqtt-dev:armhf \
#     libpaho-mqttpp-dev:armhf libmodbus-dev:armhf libsqlite3-dev:armhf \
#     libtomlplusplus-dev:armhf libhowardhinnant-date-dev:armhf
#   (toml++ and date-tz are compiled libraries, and Paho's CMake config asks for OpenSSL, so
#    these need the target's packages; nlohmann-json3-dev, libcli11-dev and doctest-dev are
#    header-only, so the host's copies serve.)
# Use:
#   cmake --preset armhf          (or: cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake)
# Binaries run on the host with: qemu-arm -L /usr/arm-linux-gnueabihf build-armhf/bin/<program>

set(LABGATE_TRIPLE arm-linux-gnueabihf)

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)

# Debian's cross compilers (packages gcc-/g++-arm-linux-gnueabihf; default -march=armv7-a+fp,
# -mfloat-abi=hard, -mthumb, which matches Debian armhf).
set(CMAKE_C_COMPILER   ${LABGATE_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${LABGATE_TRIPLE}-g++)

# Multiarch roots: /usr/lib/arm-linux-gnueabihf for libraries, /usr/arm-linux-gnueabihf for the
# cross libc, / for arch-independent headers in /usr/include.
set(CMAKE_LIBRARY_ARCHITECTURE ${LABGATE_TRIPLE})
set(CMAKE_FIND_ROOT_PATH /usr/${LABGATE_TRIPLE} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (libmodbus): the target's .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${LABGATE_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
find_program(LABGATE_CROSS_PKG_CONFIG ${LABGATE_TRIPLE}-pkg-config)
if(LABGATE_CROSS_PKG_CONFIG)
  set(PKG_CONFIG_EXECUTABLE ${LABGATE_CROSS_PKG_CONFIG} CACHE FILEPATH "pkg-config for ${LABGATE_TRIPLE}")
endif()

# Build-time runs of target programs (board check) through qemu-user when available.
find_program(LABGATE_QEMU qemu-arm)
if(LABGATE_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${LABGATE_QEMU} -L /usr/${LABGATE_TRIPLE})
endif()

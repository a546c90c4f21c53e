# Cross toolchain: 64-bit ARM Linux (Raspberry Pi 4 and similar) with Debian's cross compilers
# and multiarch libraries.
#
# Host setup (Debian 12), once:
#   sudo dpkg --add-architecture arm64 && sudo apt-get update
#   sudo apt-get install g++-aarch64-linux-gnu pkg-config qemu-user \
#     libboost-dev:arm64 libmbedtls-dev:arm64 libssl-dev:arm64 libpaho-mqtt-dev:arm64 \
#     libpaho-mqttpp-dev:arm64 libmodbus-dev:arm64 libsqlite3-dev:arm64 \
#     libtomlplusplus-dev:arm64 libhowardhinnant-date-dev:arm64
#   (toml++ and date-tz are compiled libraries, and Paho's CMake config asks for OpenSSL, so
#    these need the target's packages; nlohmann-json3-dev, libcli11-dev and doctest-dev are
#    header-only, so the host's copies serve.)
# Use:
#   cmake --preset aarch64        (or: cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake)
# Binaries run on the host with: qemu-aarch64 -L /usr/aarch64-linux-gnu build-aarch64/bin/<program>

set(LABGATE_TRIPLE aarch64-linux-gnu)

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

# Debian's cross compilers (packages gcc-/g++-aarch64-linux-gnu).
set(CMAKE_C_COMPILER   ${LABGATE_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${LABGATE_TRIPLE}-g++)

# Multiarch: target libraries live in /usr/lib/aarch64-linux-gnu, the cross libc in
# /usr/aarch64-linux-gnu. Headers of arch-independent -dev packages stay in /usr/include, so "/"
# is a root too; CMAKE_LIBRARY_ARCHITECTURE makes find_library/find_package look in the
# triple's lib directory only (never the host's x86_64 one).
set(CMAKE_LIBRARY_ARCHITECTURE ${LABGATE_TRIPLE})
set(CMAKE_FIND_ROOT_PATH /usr/${LABGATE_TRIPLE} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)   # build tools (ninja, python3) come from the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)    # /usr/include is shared with the host (multiarch)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (libmodbus): read only the target's .pc files, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${LABGATE_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
# Debian also ships a triple-prefixed wrapper that does the same; prefer it when present.
find_program(LABGATE_CROSS_PKG_CONFIG ${LABGATE_TRIPLE}-pkg-config)
if(LABGATE_CROSS_PKG_CONFIG)
  set(PKG_CONFIG_EXECUTABLE ${LABGATE_CROSS_PKG_CONFIG} CACHE FILEPATH "pkg-config for ${LABGATE_TRIPLE}")
endif()

# Run target programs at build time (boards/ runs labgate-boardcheck) through qemu-user if
# installed; without it the board check is skipped with a message.
find_program(LABGATE_QEMU qemu-aarch64)
if(LABGATE_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${LABGATE_QEMU} -L /usr/${LABGATE_TRIPLE})
endif()

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
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(LABGATE_QEMU_NAME qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian_multiarch.cmake)

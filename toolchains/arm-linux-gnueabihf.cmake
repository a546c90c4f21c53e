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
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(LABGATE_QEMU_NAME qemu-arm)
# The compiler defaults (-march=armv7-a+fp, -mfloat-abi=hard, -mthumb) match Debian armhf.
include(${CMAKE_CURRENT_LIST_DIR}/debian_multiarch.cmake)

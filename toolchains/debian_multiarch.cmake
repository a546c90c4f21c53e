# Shared part of the Debian cross toolchains: included by <triple>.cmake after it sets
# LABGATE_TRIPLE, CMAKE_SYSTEM_PROCESSOR and LABGATE_QEMU_NAME.

set(CMAKE_SYSTEM_NAME Linux)

# Debian's cross compilers (packages gcc-/g++-<triple>).
set(CMAKE_C_COMPILER   ${LABGATE_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${LABGATE_TRIPLE}-g++)

# Multiarch: target libraries live in /usr/lib/<triple>, the cross libc in /usr/<triple>.
# Headers of arch-independent -dev packages stay in /usr/include, so "/" is a root too;
# CMAKE_LIBRARY_ARCHITECTURE makes find_library/find_package look in the triple's lib
# directory only (never the host's x86_64 one).
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
find_program(LABGATE_QEMU ${LABGATE_QEMU_NAME})
if(LABGATE_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${LABGATE_QEMU} -L /usr/${LABGATE_TRIPLE})
endif()

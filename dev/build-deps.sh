#!/usr/bin/env bash
# What building Imagegram needs besides Rust: a C/C++ toolchain and cmake
# for librdkafka (rdkafka's cmake-build) and libjpeg-turbo, nasm for
# libjpeg-turbo's SIMD code, pkg-config and zlib's headers for librdkafka,
# and libcurl's headers: librdkafka 2.12's rdkafka_conf.c includes
# <curl/curl.h> under an #ifdef that its cmake config defines as 0, so it
# needs the header even with WITH_CURL=0 (nothing links against libcurl).
# Installs the missing ones with apt-get. The Dockerfile runs this too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BUILD_PACKAGES=(build-essential cmake nasm pkg-config zlib1g-dev libcurl4-openssl-dev)

need_packages "${BUILD_PACKAGES[@]}"
if [ "${1:-}" != "--no-rust" ]; then
  need_command cargo "install Rust with rustup (https://rustup.rs), then run again"
fi

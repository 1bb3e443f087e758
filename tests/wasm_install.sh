#!/bin/sh
# The WebAssembly build as an outside project gets it: this build installed
# into a scratch prefix, then a project of its own that includes the
# installed TenonWasm.cmake and calls tenon_add_wasm_plugin(), and the
# installed tenon-wasm-plugin run by hand, each on examples/opshout.c; the
# installed tenon must show both plugins as available WebAssembly plugins.
#
#   sh wasm_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tenon-wasm-install.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/tenon-wasm-plugin share/tenon/cmake/TenonWasm.cmake \
    share/tenon/wasm/tenon_wasm_glue.c share/tenon/wasm/tenon_wasm_guest.c \
    share/tenon/wasm/tenon_wasm_rt.h share/tenon/wasm/tenon_wasm.h; do
    [ -f "$prefix/$f" ] || { echo "FAIL: $f is not installed"; exit 1; }
done

mkdir "$scratch/project"
cp "$src/examples/opshout.c" "$scratch/project/"
cat >"$scratch/project/CMakeLists.txt" <<EOT
cmake_minimum_required(VERSION 3.18)
project(outside C)
include($prefix/share/tenon/cmake/TenonWasm.cmake)
tenon_add_wasm_plugin(shout SOURCES opshout.c MEMORY_DEFAULT 2m
  OUTPUT_DIRECTORY \${CMAKE_BINARY_DIR}/plugins)
EOT
cmake -S "$scratch/project" -B "$scratch/project/build" >/dev/null
cmake --build "$scratch/project/build" >/dev/null

mkdir "$scratch/script"
(cd "$scratch/script" &&
    "$prefix/bin/tenon-wasm-plugin" -o shout.so --memory-default 3m \
        "$src/examples/opshout.c")

check() { # dir default
    out=$(HOME=$scratch "$prefix/bin/tenon" info shout --plugin-path "$1")
    echo "$out"
    for want in "status:      available" "sandbox=wasm32" \
        "wasm_memory  int (65536..4294967296), default \"$2\""; do
        case $out in
        *"$want"*) ;;
        *) echo "FAIL: tenon info shout in $1 lacks: $want"; exit 1 ;;
        esac
    done
}
check "$scratch/project/build/plugins" 2m
check "$scratch/script" 3m
echo "ok"

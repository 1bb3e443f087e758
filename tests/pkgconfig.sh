#!/bin/sh
# A host compiled and linked with nothing but the flags of the build tree's
# tenon-uninstalled.pc, then run: the .pc must point at this source tree's
# headers and this build's library.
#
#   sh pkgconfig.sh BUILD_DIR SOURCE_DIR CC [EXTRA_CFLAGS]
#
# Exits 77 (CTest: skipped) when pkg-config is not installed.
set -eu
build=$1 src=$2 cc=$3 extra=${4:-}

if ! command -v pkg-config >/dev/null 2>&1; then
    echo "pkg-config is not installed; skipped (apt-get install pkg-config)"
    exit 77
fi
# The uninstalled .pc requires what the installed one does: pkg-config looks
# for every package of Requires.private, even for --cflags, so a stale name
# fails on a machine that has only what the Makefile installs.
for f in tenon.pc tenon-uninstalled.pc; do
    sed -n 's/^Requires.private: //p' "$build/$f"
done | uniq | awk 'END { if (NR != 1) { print "FAIL: tenon.pc and " \
    "tenon-uninstalled.pc differ in Requires.private"; exit 1 } }'
flags=$(PKG_CONFIG_PATH=$build pkg-config --cflags --libs tenon-uninstalled)
echo "pkg-config: $flags"
case " $flags " in
*" -I$src/include "*) ;;
*) echo "FAIL: the flags lack -I$src/include"; exit 1 ;;
esac
case " $flags " in
*" -L$build "*) ;;
*) echo "FAIL: the flags lack -L$build"; exit 1 ;;
esac

out=$build/tests/pkgconfig-host
# shellcheck disable=SC2086 # the flags are words
$cc $extra -std=c11 -Wall -Wextra -Werror -o "$out" \
    "$src/tests/pkgconfig_host.c" $flags "-Wl,-rpath,$build"
got=$("$out" "$build/plugins")
echo "$got"
if [ "$got" != "hello 1.0.0 (libtenon $(sed -n 's/^Version: //p' \
        "$build/tenon-uninstalled.pc"))" ]; then
    echo "FAIL: unexpected output"
    exit 1
fi
# The library it ran with is the build tree's, not an installed one.
if ! ldd "$out" | grep -q "$build/libtenon.so"; then
    echo "FAIL: not linked against $build/libtenon.so:"
    ldd "$out"
    exit 1
fi

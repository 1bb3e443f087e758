#!/bin/sh
# make demo keeps its promises (tests/demo.sh):
#  - it runs to the end and writes nothing into the home directory, and
#    leaves nothing in $TMPDIR;
#  - the commands it prints, pasted into a fresh shell at the same place,
#    run and print what the demo printed (temporary paths and the random
#    key id aside): no hidden set-up, no placeholder that exists only in
#    the script.
#
#   sh demo_check.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2
work=$(mktemp -d) || exit 1
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/home" "$work/home2" "$work/tmp" "$work/tmp2"
fail() {
    echo "FAIL: $*"
    exit 1
}

# A clean environment: nothing of the caller's Tenon or XDG settings.
clean_env() {
    env -u TENON_CACHE_DIR -u TENON_PLUGIN_PATH -u TENON_LOG -u TENON_TRUST \
        -u XDG_CACHE_HOME -u XDG_CONFIG_HOME "$@"
}

cd "$src" || exit 1
HOME=$work/home TMPDIR=$work/tmp clean_env sh tests/demo.sh "$build" \
    >"$work/demo.out" 2>&1
status=$?
cat "$work/demo.out"
[ "$status" = 0 ] || fail "the demo exited with status $status"
[ -z "$(ls -A "$work/home")" ] &&
    [ -z "$(ls -A "$work/tmp")" ] ||
    fail "the demo left files behind: $(find "$work/home" "$work/tmp" | tr '\n' ' ')"

# The replay: each printed command, printed the same way, then run.
awk '
    /^\$ / {
        cmd = substr($0, 3)
        print "printf \"\\n$ %s\\n\" \"$(cat <<'\''__DEMO_EOF__'\''"
        print cmd
        print "__DEMO_EOF__"
        print ")\""
        print cmd
    }' "$work/demo.out" >"$work/replay.sh"
[ -s "$work/replay.sh" ] || fail "no commands found in the demo's output"
HOME=$work/home2 TMPDIR=$work/tmp2 clean_env sh "$work/replay.sh" \
    >"$work/replay.out" 2>&1

# mktemp names and key ids differ from run to run; so do the helper
# process's pids, addresses (ASLR), start time and core size; times and
# rates (--stats) have decimals, event times (--json) are 19 digits; a
# pid one digit longer in the replay widens its column (runs of spaces).
normalize() {
    sed -e "s|$2/tmp\\.[A-Za-z0-9]*|\$T|g" \
        -e 's/[0-9]\{19\}/NS/g' -e 's/[0-9a-f]\{16\}/KEY_ID/g' "$1" |
        sed -E -e 's/0x[0-9a-f]+/0xADDR/g' -e 's/\b[0-9a-f]{12}\b/ADDR/g' \
            -e 's/\b[0-9]{2}:[0-9]{2}\b/HH:MM/g' -e 's/\b[0-9]+\.[0-9]+\b/F/g' \
            -e 's/\b[0-9]{3,}\b/N/g' -e 's/  +/ /g'
}
normalize "$work/demo.out" "$work/tmp" >"$work/a"
normalize "$work/replay.out" "$work/tmp2" >"$work/b"
if ! diff -u "$work/a" "$work/b"; then
    fail "the printed commands, pasted, do not give the demo's output"
fi
[ -z "$(ls -A "$work/home2")" ] || fail "the replay wrote into the home"
echo "demo: $(grep -c '^\$ ' "$work/demo.out") commands replayed"

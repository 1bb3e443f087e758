#!/bin/sh
# doc_cli.sh - the documentation of the tenon command says what it does.
#
#   sh tests/doc_cli.sh SOURCE_DIR BUILD_DIR PREFIX [--update]
#
# 1. Commands and options, taken from the CLI itself: the commands are the
#    ones `tenon help` lists, and a command's options are the --words of the
#    usage lines and of the option list (lines "  --OPTION") of its --help.
#    Each command needs a row in README.md's "CLI at a glance" table that
#    names every one of its options, and a section "## tenon COMMAND" in
#    docs/cli.md that names them too and whose Synopsis block is its usage
#    lines; every environment variable `tenon help` lists needs a line in
#    docs/cli.md's Environment section.
# 2. Sample output. Every fenced block of the DOCS below whose first line
#    starts with "$ " is a transcript: its "$ " lines are run, in order, by
#    one shell in a pseudo-terminal (so stdout and stderr interleave as a
#    user sees them), and what they print must be the rest of the block.
#    A block right after a line <!-- unchecked: REASON --> is skipped.
#    The commands run from a scratch directory laid out like the top of the
#    source tree after `make` (build/, include/ and examples/ are links),
#    with build/ and build/examples/ first on PATH, so `tenon` is
#    build/tenon and `greet` build/examples/greet, and with two more
#    directories the docs describe: extra/ (a copy of hello.so, the test
#    plugin basic as 1.2.0 and 1.10.0, and a text file notes.so) and bad/
#    (the test suite's broken plugins). Each block starts with an empty home
#    directory, shown as /home/me: no scan cache, no trusted key. The
#    scratch directory itself is shown as /home/me/tenon, and PREFIX, the
#    install prefix the build was configured with, as /usr/local. Key ids,
#    which are random, compare equal whatever their digits, and so do
#    SHA-256 digests, which change with the compiler.
#
# With --update the transcripts are rewritten with what the commands print
# (for after a deliberate change of output); review the diff.
#
# Needs script(1) from util-linux (Debian: bsdutils, an essential package)
# for the pseudo-terminal; exits 77 (CTest: skipped) without it.
set -u
src=$1 build=$2 prefix=$3 update=${4:-}
# The transcripts run in another directory: relative paths would name
# nothing there (and --update would then write empty transcripts).
src=$(cd "$src" && pwd) && build=$(cd "$build" && pwd) || exit 1
if ! command -v script >/dev/null 2>&1; then
    echo "script(1) is not installed; skipped"
    exit 77
fi
DOCS="README.md docs/cli.md docs/plugin-authoring.md docs/embedding.md docs/events.md docs/ops.md"
failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}

scratch=$(mktemp -d) || exit 1
trap 'rm -rf "$scratch"' EXIT
tenon=$build/tenon

# ---- 1. commands and options ----------------------------------------------

"$tenon" help >"$scratch/help" || fail "'tenon help' failed"
commands=$(awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }
                on && !/^  / { on = 0 }' "$scratch/help")
[ -n "$commands" ] || fail "'tenon help' lists no commands"

# The lines of `file` from the one equal to `start` up to the next line
# matching the regular expression `stop` (not included).
section() {
    awk -v start="$2" -v stop="$3" '$0 == start { on = 1; print; next }
        on && $0 ~ stop { exit } on { print }' "$1"
}

# One line: the words of the text on stdin, separated by single spaces.
words() { tr -s ' \n\t' '   ' | sed 's/^ //; s/ $//'; }

for cmd in $commands; do
    "$tenon" "$cmd" --help >"$scratch/usage" 2>&1 ||
        fail "'tenon $cmd --help' failed"
    # usage lines: "usage: " up to the first blank line
    synopsis=$(awk 'NR == 1 { sub(/^usage: /, "") } /^$/ { exit } { print }' \
        "$scratch/usage" | words)
    options=$(
        {
            printf '%s\n' "$synopsis"
            grep '^  --' "$scratch/usage"
        } | grep -o -- '--[a-z][a-z-]*' | grep -vx -- '--help' | sort -u
    )
    row=$(grep "^| \`tenon $cmd[\` ]" "$src/README.md" | head -n 1)
    [ -n "$row" ] || fail "README.md: no row for 'tenon $cmd' in the CLI table"
    section "$src/docs/cli.md" "## tenon $cmd" '^## ' >"$scratch/section"
    [ -s "$scratch/section" ] ||
        fail "docs/cli.md: no section '## tenon $cmd'"
    grep -q "(#tenon-$cmd)" "$src/docs/cli.md" ||
        fail "docs/cli.md: the command table does not link #tenon-$cmd"
    for opt in $options; do
        case $row in *"$opt"*) ;; *)
            fail "README.md: the row of 'tenon $cmd' lacks $opt" ;;
        esac
        grep -q -- "$opt" "$scratch/section" ||
            fail "docs/cli.md: section 'tenon $cmd' never mentions $opt"
    done
    documented=$(awk '/^### Synopsis/ { s = 1; next }
        s && /^```/ { if (in_block) exit; in_block = 1; next }
        in_block { print }' "$scratch/section" | words)
    [ "$documented" = "$synopsis" ] ||
        fail "docs/cli.md: the synopsis of 'tenon $cmd' is
    '$documented'; 'tenon $cmd --help' says
    '$synopsis'"
done
grep -q '^| `tenon --version`' "$src/README.md" ||
    fail "README.md: no row for 'tenon --version'"
grep -q '^## tenon --version$' "$src/docs/cli.md" ||
    fail "docs/cli.md: no section '## tenon --version'"
section "$src/docs/cli.md" "## Environment" '^## ' >"$scratch/env"
for var in $(grep -o '^  TENON_[A-Z_]*' "$scratch/help"); do
    grep -q "^- \`$var\`" "$scratch/env" ||
        fail "docs/cli.md: Environment does not describe $var"
done

# ---- 2. transcripts ---------------------------------------------------------

top=$scratch/top
mkdir -p "$top/extra" "$top/bad" "$top/home"
ln -s "$build" "$top/build"
ln -s "$src/include" "$top/include"
ln -s "$src/examples" "$top/examples"
cp "$build/plugins/hello.so" "$top/extra/hello.so"
cp "$build/tests/plugins/basic_v1.so" "$top/extra/basic-1.2.0.so"
cp "$build/tests/plugins/basic_v2.so" "$top/extra/basic-1.10.0.so"
echo "not a plugin" >"$top/extra/notes.so"
cp "$build/tests/badsrc/"*.so "$top/bad/"
# Files made within the clock tick of a cache write are probed again, and
# the debug lines count them: make the fixtures older than any cache.
touch -d '2020-01-01 00:00:00' "$top"/extra/* "$top"/bad/* "$top/extra" \
    "$top/bad"

# The transcripts of one document: for block N, $scratch/t/DOC.N.cmds (the
# commands) and .want (the whole block), and DOC.list with "N FIRST LAST"
# (the block's lines in the document, fences excluded).
extract() {
    awk -v out="$2" '
        /^```/ {
            if (!inb) { inb = 1; first = FNR + 1; n_lines = 0; next }
            inb = 0
            if (n_lines && lines[1] ~ /^\$ / && !skip) {
                n++
                for (i = 1; i <= n_lines; i++) {
                    print lines[i] > (out "." n ".want")
                    if (lines[i] ~ /^\$ /)
                        print substr(lines[i], 3) > (out "." n ".cmds")
                }
                close(out "." n ".want"); close(out "." n ".cmds")
                print n, first, FNR - 1 > (out ".list")
            }
            skip = 0
            next
        }
        inb { lines[++n_lines] = $0; next }
        /^<!-- unchecked: .+ -->$/ { skip = 1; next }
        /^[ \t]*$/ { next }
        { skip = 0 }' "$1"
    touch "$2.list"
}

# Run the commands of a block the way a user at a terminal would see them.
run_block() {
    cmds=$1 out=$2
    {
        echo '__st=0'
        while IFS= read -r c; do
            printf "cat <<'__DOC_EOF__'\n\$ %s\n__DOC_EOF__\n" "$c"
            printf '(exit $__st); { %s\n} 2>&1; __st=$?\n' "$c"
        done <"$cmds"
    } >"$scratch/block.sh"
    rm -rf "$top/home"
    mkdir "$top/home"
    (
        cd "$top" &&
            env -u TENON_CACHE_DIR -u TENON_PLUGIN_PATH -u TENON_LOG \
                -u TENON_TRUST -u XDG_CACHE_HOME -u XDG_CONFIG_HOME \
                HOME="$top/home" LC_ALL=C TERM=dumb \
                PATH="$top/build:$top/build/examples:$PATH" \
                script -qec "sh $scratch/block.sh" /dev/null </dev/null
    ) | tr -d '\r' | sed "s|$top/home|/home/me|g; s|$top|/home/me/tenon|g
        s|$prefix/lib/tenon|/usr/local/lib/tenon|g" >"$out"
}

# Key ids are random and digests depend on the compiler: any 64 or 16 hex
# digits compare equal.
ids() {
    sed 's/[0-9a-f]\{64\}/DIGEST/g; s/[0-9a-f]\{16\}/KEY_ID/g' "$1"
}

mkdir "$scratch/t"
for doc in $DOCS; do
    base=$scratch/t/$(echo "$doc" | tr / _)
    extract "$src/$doc" "$base"
    checked=0
    while read -r n first last; do
        run_block "$base.$n.cmds" "$base.$n.got"
        ids "$base.$n.want" >"$scratch/want"
        ids "$base.$n.got" >"$scratch/got"
        if ! cmp -s "$scratch/want" "$scratch/got"; then
            if [ "$update" = --update ]; then
                echo "$doc:$first: updated"
                printf '%s %s %s\n' "$first" "$last" "$base.$n.got" \
                    >>"$base.updates"
            else
                fail "$doc:$first: the transcript differs from what the commands print:"
                diff -u "$scratch/want" "$scratch/got" | sed 's/^/    /'
            fi
        fi
        checked=$((checked + 1))
    done <"$base.list"
    echo "$doc: $checked transcript(s) run"
    if [ -f "$base.updates" ]; then
        # Replace the blocks from the last one up, so line numbers hold.
        sort -rn "$base.updates" | while read -r first last got; do
            awk -v first="$first" -v last="$last" -v got="$got" '
                FNR == first { while ((getline l < got) > 0) print l }
                FNR >= first && FNR <= last { next } { print }' \
                "$src/$doc" >"$scratch/new" && cat "$scratch/new" >"$src/$doc"
        done
    fi
done

if [ "$failed" != 0 ]; then
    echo "The docs and the CLI disagree. Fix the docs (or the CLI); after a"
    echo "deliberate change of output, 'sh tests/doc_cli.sh SRC BUILD PREFIX --update'"
    echo "rewrites the transcripts for review."
    exit 1
fi
echo "doc_cli: commands, options and transcripts match the CLI"

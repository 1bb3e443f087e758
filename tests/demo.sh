#!/bin/sh
# make demo: Tenon's main job on real plugins, with real output.
#
#   sh tests/demo.sh [BUILD_DIR]     (from the top of the source tree)
#
# Every command is printed before it runs, and what is printed is exactly
# what runs (run() evaluates the printed text), so each line works when
# pasted into a shell at the top of the tree, in order. Nothing is written
# outside the scratch directory $T, which the demo makes first and removes
# at the end: the scan cache and the trust store are pointed into it.
# tests/demo_check.sh replays the printed commands to keep it so.
set -e
B=${1:-build}
if [ -t 1 ]; then
    bold=$(printf '\033[1m') off=$(printf '\033[0m')
else
    bold='' off=''
fi

# `$1` quoted for the shell when it needs quotes.
quote() {
    case $1 in
    '' | *[!A-Za-z0-9_./:@%+=,-]*)
        printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
    *) printf '%s' "$1" ;;
    esac
}

# Print a command line and run it in this shell, so that variables it sets
# stay set for the next ones. try: the same for a command shown failing.
run() {
    printf '\n%s$ %s%s\n' "$bold" "$1" "$off"
    eval "$1"
}
try() {
    printf '\n%s$ %s%s\n' "$bold" "$1" "$off"
    eval "$1" || true
}

b=$(quote "$B")
p="$b/plugins"

run 'T=$(mktemp -d)   # scratch space for the demo, removed at the end'
trap 'rm -rf "$T"' EXIT
run 'export TENON_CACHE_DIR="$T/cache" XDG_CONFIG_HOME="$T/config"   # not ~/.cache, ~/.config'

run "$b/tenon --version"
run "$b/tenon list --plugin-path $p"
run "$b/tenon info hello --plugin-path $p"
run "readelf -p .note.tenon $p/hello.so   # the static info, read without loading"
run "$b/examples/greet --plugin-path $p 'hello:Bonjour,times=2,shout=yes' World Tenon"
try "$b/tenon check 'hello:times=11' --plugin-path $p   # checked against the declarations"
try "$b/examples/greet --plugin-path $p 'hello:times=lots' World   # refused before loading"
run "$b/tenon list --all --plugin-path $b/tests/badsrc   # files Tenon refuses, with the reason"

# Introspection: a live helper process holds a marker string; list it, read
# the marker through a chain (native OS -> process connector), dump the
# process to a core file, and read the same bytes back from the core.
run "$b/tenon providers tenon.osi/1 --plugin-path $p   # tried highest rank first"
run "mkfifo \"\$T/in\"; $b/tests/osi_target < \"\$T/in\" > \"\$T/target\" & exec 3> \"\$T/in\"   # lives until fd 3 closes"
run "until [ -s \"\$T/target\" ]; do sleep 0.1; done; cat \"\$T/target\""
run "P=\$(sed 's/^pid=\\([0-9]*\\).*/\\1/' \"\$T/target\"); A=\$(sed 's/.* marker=\\(0x[0-9a-f]*\\).*/\\1/' \"\$T/target\")"
run "$b/tenon ps --plugin-path $p | awk -v p=\$P 'NR == 1 || \$1 == p'   # no -o: native, the highest rank"
run "$b/tenon threads \$P --plugin-path $p"
run "$b/tenon read -o native -c process:pid=\$P \$A 45 --plugin-path $p"
try "$b/tenon read -o native -c process:pid=\$P 0x10 8 --plugin-path $p   # nothing mapped there"
run "$b/tenon dump \$P -O \"\$T/target.core\" --plugin-path $p"
run "$b/tenon read -o coredump:\"\$T/target.core\" \$A 45 --plugin-path $p   # the same bytes, from the core"
run "gdb -batch -nx -ex 'info threads' -ex \"x/s \$A\" $b/tests/osi_target \"\$T/target.core\" 2>/dev/null | grep -E 'LWP|TENON'"
run "exec 3>&-   # the helper exits"

# Events: a filtered query over a JSON-lines file, fields named by the
# filter and the format extracted in batches; then process start and exit
# events from procwatch (reading native), catching a process started here.
run "$b/tenon fields jsonl --plugin-path $p"
run "$b/tenon run -s jsonl --open examples/data/access.jsonl -f 'json.number[/status] >= 500 and json.value[/region] startswith us-' -F '%evt.num %json.value[/user] %json.value[/method] %json.value[/path] %json.number[/status]' --plugin-path $p"
run "$b/tenon run -s jsonl --open examples/data/access.jsonl -f 'json.value[/user] in (alice, erin) and not json.value[/request/tls] = true' --json -n 20 --plugin-path $p"
run "$b/tenon run -s jsonl --open examples/data/access.jsonl -f 'json.value[/request/headers/x-trace-id] exists and json.number[/size] > 100000' -F '%json.value[/user] %json.number[/size]' --stats --plugin-path $p"
try "$b/tenon run -s jsonl --open examples/data/access.jsonl -f 'json.number[/size] > big' --plugin-path $p   # checked before reading"
try "(sleep 1; sleep 2.5; true) & timeout -s INT 6 $b/tenon run -s procwatch:interval=50 -f 'proc.name = sleep and proc.cmdline contains 2.5' -F '%proc.event %proc.name %proc.cmdline' --plugin-path $p   # sleep 2.5 starts after 1 s; SIGINT after 6 s"

# Operations: kvserver's commands are operations its plugins hook: kv-audit
# logs each one (after), kv-limit refuses a SET over 16 bytes (before), and
# kv-ttl adds EXPIRE (a define on the verbs the server does not know) with
# a timer that deletes the key. The server picks a free loopback port and
# prints it; its log (kv-audit's lines) goes to a file.
run "$b/tenon info kv-ttl --plugin-path $p | grep -E '^(name|permissions|hooks):|^ +(before|define|after) '"
run "$b/examples/tenon-kvserver --plugin-path $p --plugin kv-audit --plugin kv-limit:max=16 --plugin kv-ttl > \"\$T/kv.out\" 2> \"\$T/kv.log\" & KV=\$!"
trap 'kill $KV 2>/dev/null || :; rm -rf "$T"' EXIT
run "until [ -s \"\$T/kv.out\" ]; do sleep 0.1; done; cat \"\$T/kv.out\"; PORT=\$(sed 's/.*://' \"\$T/kv.out\")"
run "$b/examples/kvclient \$PORT 'SET user:1 alice' 'GET user:1' 'SET note this value is far too long' 'GET note' 'FROB x'"
run "$b/examples/kvclient \$PORT 'SET session:9 token' 'EXPIRE session:9 1' 'GET session:9'"
run "sleep 1.5; $b/examples/kvclient \$PORT 'GET session:9'   # expired"
run "kill \$KV; wait \$KV; cat \"\$T/kv.log\"   # what kv-audit logged"

# Signing: a key pair, a signed copy of hello, and what a tampered byte does.
run "cp $p/hello.so \"\$T/hello.so\""
run "$b/tenon keygen --out \"\$T/keys\" --name demo"
run "$b/tenon sign \"\$T/hello.so\" --key \"\$T/keys/demo.key\""
run "$b/tenon trust add \"\$T/keys/demo.pub\"   # into \$XDG_CONFIG_HOME, in \$T"
run "$b/tenon verify \"\$T/hello.so\""
try "printf x >> \"\$T/hello.so\"; $b/tenon verify \"\$T/hello.so\"   # one byte more"
run "$b/tenon list --all --no-cache --plugin-path \"\$T\"   # a trusted key exists: require"
run 'rm -rf "$T"'

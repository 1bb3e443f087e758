#!/bin/sh
# make demo: Tenon's main job on real plugins, with real output.
set -e
B=${1:-build}
P=$B/plugins
if [ -t 1 ]; then bold='\033[1m' off='\033[0m'; else bold='' off=''; fi
say() { printf "\n${bold}\$ %s${off}\n" "$*"; }

say tenon --version
"$B/tenon" --version

say tenon list --plugin-path "$P"
"$B/tenon" list --plugin-path "$P"

say tenon info hello --plugin-path "$P"
"$B/tenon" info hello --plugin-path "$P"

say "readelf -p .note.tenon $P/hello.so   # the static info, read without loading"
readelf -p .note.tenon "$P/hello.so" | head -n 12

say "examples/greet --plugin-path $P 'hello:Bonjour,times=2,shout=yes' World Tenon"
"$B/examples/greet" --plugin-path "$P" 'hello:Bonjour,times=2,shout=yes' World Tenon

say "examples/greet --plugin-path $P 'hello:times=lots' World   # bad argument: refused before loading"
"$B/examples/greet" --plugin-path "$P" 'hello:times=lots' World || true

say "tenon list --all --plugin-path $B/tests/badsrc   # files Tenon refuses, with the reason"
"$B/tenon" list --all --plugin-path "$B/tests/badsrc"

# Signing: a key pair, a signed copy of hello, and what a tampered byte does.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export XDG_CONFIG_HOME="$T/config" # a private trust store for the demo
cp "$P/hello.so" "$T/hello.so"

say "tenon keygen --out \$T/keys --name demo"
"$B/tenon" keygen --out "$T/keys" --name demo

say "tenon sign \$T/hello.so --key \$T/keys/demo.key"
"$B/tenon" sign "$T/hello.so" --key "$T/keys/demo.key"

say "tenon trust add \$T/keys/demo.pub"
"$B/tenon" trust add "$T/keys/demo.pub"

say "tenon verify \$T/hello.so"
"$B/tenon" verify "$T/hello.so"

say "printf x >> \$T/hello.so; tenon verify \$T/hello.so   # one byte more"
printf x >> "$T/hello.so"
"$B/tenon" verify "$T/hello.so" || true

say "tenon list --all --no-cache --plugin-path \$T   # a trusted key exists: require"
"$B/tenon" list --all --no-cache --plugin-path "$T"

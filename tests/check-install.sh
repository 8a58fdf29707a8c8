#!/bin/bash
# check-install.sh BUILD_DIR: install into a staging DESTDIR, build the
# embedding example against the staged tree as an embedder would (nothing
# but pkg-config), run it against the scripted guest agent, uninstall
# (issue 15).
#
# From the Makefile, through the environment: PUBLIC_HEADERS, SO_NAME,
# VERSION_MAJOR/MINOR/MICRO, CC, EXAMPLE_FLAGS (the sanitizer flags of a
# SANITIZE build, whose library needs the runtime in the program).  The stage is BUILD_DIR/stage (PREFIX
# /usr/local); the example is built with a copy of the staged .pc whose
# prefix points at the stage (PKG_CONFIG_SYSROOT_DIR would also prefix
# glib's paths), and run with LD_LIBRARY_PATH on the staged lib/.
# Fails on a file missing from, or extra in, the install, a public header
# that does not compile alone from the stage, a symbol the example needs
# and the staged library lacks, a wrong line of the example's output, or
# a file uninstall leaves.
set -u -o pipefail
O=${1:?usage: check-install.sh BUILD_DIR}
O=$(cd "$O" && pwd)
SRC=$(pwd)
VERSION="$VERSION_MAJOR.$VERSION_MINOR.$VERSION_MICRO"
STAGE="$O/stage"
P=/usr/local
fails=0
fail() { echo "FAIL check-install: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
finish() {
    if [ "$fails" -ne 0 ]; then
        echo "check-install: $fails failure(s)"
        [ -s "$tmp/out" ] && sed 's/^/  example: /' "$tmp/out"
        [ -s "$tmp/err" ] && sed 's/^/  stderr: /' "$tmp/err"
        exit 1
    fi
}

# ---- install ----
rm -rf "$STAGE"
${MAKE:-make} --no-print-directory -s O="$O" install DESTDIR="$STAGE" \
    PREFIX=$P > "$tmp/install.log" 2>&1 \
    || { fail "make install: $(tail -3 "$tmp/install.log")"; finish; }
{
    echo "$P/bin/vdagent-host"
    for h in $PUBLIC_HEADERS; do echo "$P/include/vdagent-chardev/$h"; done
    echo "$P/lib/libvdagent-chardev.a"
    echo "$P/lib/libvdagent-chardev.so"
    echo "$P/lib/$SO_NAME"
    echo "$P/lib/libvdagent-chardev.so.$VERSION"
    echo "$P/lib/pkgconfig/vdagent-chardev.pc"
    echo "$P/share/man/man1/vdagent-host.1"
} | LC_ALL=C sort > "$tmp/want"
(cd "$STAGE" && find . \( -type f -o -type l \) | sed 's/^\.//') \
    | LC_ALL=C sort > "$tmp/have"
while read -r f; do fail "not installed: $f"; done \
    < <(LC_ALL=C comm -23 "$tmp/want" "$tmp/have")
while read -r f; do fail "installed, not expected: $f"; done \
    < <(LC_ALL=C comm -13 "$tmp/want" "$tmp/have")
[ "$(readlink "$STAGE$P/lib/$SO_NAME")" = "libvdagent-chardev.so.$VERSION" ] \
    || fail "$SO_NAME does not point at libvdagent-chardev.so.$VERSION"
[ "$(readlink "$STAGE$P/lib/libvdagent-chardev.so")" = "$SO_NAME" ] \
    || fail "libvdagent-chardev.so does not point at $SO_NAME"
pc="$STAGE$P/lib/pkgconfig/vdagent-chardev.pc"
grep -qx "prefix=$P" "$pc" || fail "the .pc's prefix is not $P: $(head -1 "$pc")"
grep -qx "Version: $VERSION" "$pc" || fail "the .pc's version is not $VERSION"
grep -q '^\.TH .*"vdagent-chardev '"$VERSION"'"' \
    "$STAGE$P/share/man/man1/vdagent-host.1" \
    || fail "the man page does not say version $VERSION"
finish

# ---- build as an embedder: pkg-config and the staged tree only ----
mkdir -p "$tmp/pc"
sed "s|^prefix=.*|prefix=$STAGE$P|" "$pc" > "$tmp/pc/vdagent-chardev.pc"
export PKG_CONFIG_PATH="$tmp/pc"
flags=$(pkg-config --cflags --libs vdagent-chardev) \
    || { fail "pkg-config --cflags --libs vdagent-chardev"; finish; }
cd "$tmp"
# every public header compiles alone (it includes what it needs)
for h in $PUBLIC_HEADERS; do
    # shellcheck disable=SC2086
    echo "#include <$h>" | $CC -std=gnu11 -Wall -Werror -fsyntax-only \
        -x c - $flags 2> "$tmp/h.err" \
        || fail "<$h> does not compile from the stage: $(head -2 "$tmp/h.err")"
done
# shellcheck disable=SC2086
$CC -std=gnu11 -O1 -Wall -Wextra -Wno-unused-parameter -Werror \
    ${EXAMPLE_FLAGS:-} -o "$tmp/embed" "$SRC/examples/embed.c" $flags \
    2> "$tmp/cc.err" \
    || { fail "examples/embed.c does not build from the stage: $(head -5 "$tmp/cc.err")"; finish; }
readelf -d "$tmp/embed" | grep -q "NEEDED.*\[$SO_NAME\]" \
    || fail "the example does not link $SO_NAME"
finish

# ---- run it against the scripted guest agent ----
ctl="$tmp/ctl"
line() { "$O/vdctl" line "unix:$ctl" "$1"; }
wait_out() {     # wait_out REGEX: the example printed a matching line
    for _ in $(seq 100); do
        grep -Eq "$1" "$tmp/out" && return 0
        sleep 0.05
    done
    fail "the example did not print /$1/"
    return 1
}
LD_LIBRARY_PATH="$STAGE$P/lib" "$tmp/embed" "$O/sim-agent" --fd 3 \
    --control "unix:$ctl" --quiet > "$tmp/out" 2> "$tmp/err" &
pid=$!
for _ in $(seq 100); do [ -S "$ctl" ] && break; sleep 0.05; done
grep -q "$STAGE$P/lib/libvdagent-chardev.so.$VERSION" "/proc/$pid/maps" \
    || fail "the example did not load the staged library"
b64() { printf '%s' "$1" | base64 -w0; }
host_text="Hello from the emulator"
want_paste="ok ${#host_text} $(b64 "$host_text")"
[ "$(line wait-caps)" = ok ] || fail "no caps from the example"
wait_out "host offers \(primary\): $host_text"
r=$(line "paste primary"); [ "$r" = "$want_paste" ] \
    || fail "guest paste of primary: '$r', want '$want_paste'"
[ "$(line 'copy clipboard Hello from the guest')" = ok ] || fail "copy"
wait_out "guest copied \(clipboard\): Hello from the guest$"
wait_out "migrated \([0-9]+ bytes of state\), the session goes on"
xy=$(sed -n 's/^embed: pointer clicked at \([0-9]*\),\([0-9]*\) on head 0$/\1 \2/p' "$tmp/out")
r=$(line pointer); [ -n "$xy" ] && [ "$r" = "ok $xy 0 0" ] \
    || fail "guest pointer '$r', the example clicked at '$xy'"
r=$(line "paste primary"); [ "$r" = "$want_paste" ] \
    || fail "guest paste of primary after the migration: '$r'"
[ "$(line 'copy clipboard Second copy, after the migration')" = ok ] \
    || fail "copy"
wait_out "guest copied \(clipboard\): Second copy, after the migration$"
r=$(line stats)
case "$r" in
*" errors=0 "*" reconnects=0 sessions=1 "*) ;;
*) fail "guest agent stats: $r" ;;
esac
line quit > /dev/null
wait "$pid"; rc=$?; pid=
[ "$rc" = 0 ] || fail "the example exited with $rc"
cat > "$tmp/want-out" <<EOT
embed: libvdagent-chardev $VERSION, built against $VERSION
embed: guest agent ready, caps 0x00038de7
embed: host offers (primary): $host_text
embed: guest copied (clipboard): Hello from the guest
embed: pointer clicked at $(echo "$xy" | tr ' ' ,) on head 0
embed: the destination refused a damaged copy, the source resumes
embed: migrated (N bytes of state), the session goes on
embed: guest copied (clipboard): Second copy, after the migration
embed: the guest closed the port (N bytes in, N out, 2 copies seen)
EOT
sed -E 's/\(([0-9]+) bytes of state/(N bytes of state/;
        s/\([0-9]+ bytes in, [0-9]+ out/(N bytes in, N out/' "$tmp/out" \
    > "$tmp/have-out"
diff -u "$tmp/want-out" "$tmp/have-out" > "$tmp/diff" \
    || fail "the example's output:"$'\n'"$(cat "$tmp/diff")"
finish

# ---- uninstall: nothing of ours is left ----
cd "$SRC"
${MAKE:-make} --no-print-directory -s O="$O" uninstall DESTDIR="$STAGE" \
    PREFIX=$P > "$tmp/uninstall.log" 2>&1 || fail "make uninstall"
left=$(cd "$STAGE" && find . \( -type f -o -type l \) | head -5)
[ -z "$left" ] || fail "left after uninstall: $left"
[ ! -e "$STAGE$P/include/vdagent-chardev" ] \
    || fail "include/vdagent-chardev left after uninstall"
finish
rm -rf "$STAGE"
echo "PASS check-install: staged install of $(wc -l < "$tmp/want") files," \
     "the example built with pkg-config alone and run against sim-agent" \
     "(clipboard both ways, pointer, migration), uninstall left nothing"

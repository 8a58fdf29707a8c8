#!/bin/bash
# check-symbols.sh BUILD_DIR: the shared library exports the public API,
# all of it, and nothing else (issue 15).
#
# The lists come from the Makefile (its "installable library" block),
# through the environment: PUBLIC_HEADERS, PUBLIC_PREFIXES, VERSION_NODE,
# VERSION_MAJOR/MINOR/MICRO, SO_NAME, CC, PKG_CFLAGS.  Checks:
#  1. the SONAME is SO_NAME;
#  2. every exported (nm -D --defined-only) symbol starts with one of
#     PUBLIC_PREFIXES (the version node VERSION_NODE aside);
#  3. every function a public header declares (gcc -aux-info, static
#     inline ones aside) and every extern variable it declares is
#     exported;
#  4. every exported symbol is declared in a public header (no internal
#     function with a public prefix, e.g. vdagent_reader_*, leaks out);
#  5. vdagent/vdc-version.h says the Makefile's version;
#  6. one prefix family (issue 15 point 5, README "Names"): every name a
#     public header defines (macros, typedefs, struct/enum/union tags,
#     enumerators) starts with NAME_PREFIXES, and every public header's
#     file name with HEADER_PREFIX, so that none meets an emulator's own
#     (QEMU's migration/vmstate.h, VMStateDescription, clipboard.h...).
# Each failure is listed; exit 1 on any.
set -u -o pipefail
O=${1:?usage: check-symbols.sh BUILD_DIR}
SO_FILE="$O/$SO_NAME"
export LC_ALL=C
fails=0
fail() { echo "FAIL check-symbols: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. SONAME
soname=$(objdump -p "$SO_FILE" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = "$SO_NAME" ] || fail "SONAME is '$soname', not $SO_NAME"

# What the library exports (the version node is an absolute symbol).
nm -D --defined-only "$SO_FILE" | awk '$2 != "A" { print $3 }' \
    | sed 's/@.*//' | sort -u > "$tmp/exported"
nm -D --defined-only "$SO_FILE" | awk '$2 == "A" { print $3 }' \
    | sed 's/@.*//' | sort -u > "$tmp/nodes"
[ "$(cat "$tmp/nodes")" = "$VERSION_NODE" ] \
    || fail "version nodes: $(tr '\n' ' ' < "$tmp/nodes")(want $VERSION_NODE)"
[ -s "$tmp/exported" ] || fail "nothing exported"

# 2. prefixes: one table, the Makefile's PUBLIC_PREFIXES
re="^($(echo $PUBLIC_PREFIXES | sed 's/ /|/g'))"
grep -Ev "$re" "$tmp/exported" > "$tmp/badprefix"
while read -r s; do fail "exported without a public prefix: $s"; done \
    < "$tmp/badprefix"

# 3. what the public headers declare, as the compiler sees it
for h in $PUBLIC_HEADERS; do echo "#include \"$h\""; done > "$tmp/all.c"
# shellcheck disable=SC2086
if ! $CC -std=gnu11 -I. $PKG_CFLAGS -aux-info "$tmp/aux" -fsyntax-only \
        "$tmp/all.c" 2> "$tmp/cc.err"; then
    fail "the public headers do not compile together: $(head -3 "$tmp/cc.err")"
fi
pubre="^/\\* (\\./)?($(echo $PUBLIC_HEADERS | sed 's/\./\\./g; s/ /|/g')):"
grep -E "$pubre" "$tmp/aux" | grep '\*/ extern ' | awk '{
    s = substr($0, index($0, "*/ extern ") + 10)
    n = split(substr(s, 1, index(s, " (") - 1), a, /[ *]+/)
    print a[n]
}' | sort -u > "$tmp/functions"
# extern variables: "extern TYPE NAME;" or "extern TYPE NAME[...];"
for h in $PUBLIC_HEADERS; do $CC -fpreprocessed -dD -E -P "$h"; done \
    | grep -E '^extern [^(]*;' \
    | sed -E 's/\[.*//; s/;.*//; s/.*[ *]([A-Za-z_][A-Za-z0-9_]*)[ ]*$/\1/' \
    | sort -u > "$tmp/variables"
sort -u "$tmp/functions" "$tmp/variables" > "$tmp/declared"
[ "$(wc -l < "$tmp/functions")" -ge 50 ] \
    || fail "only $(wc -l < "$tmp/functions") functions found in the public headers"
comm -23 "$tmp/declared" "$tmp/exported" > "$tmp/missing"
while read -r s; do fail "declared in a public header, not exported: $s"; done \
    < "$tmp/missing"

# 4. nothing else
comm -13 "$tmp/declared" "$tmp/exported" > "$tmp/extra"
while read -r s; do fail "exported, not declared in a public header: $s"; done \
    < "$tmp/extra"

# 5. the version header against the Makefile
printf '#include "vdagent/vdc-version.h"\nV VDC_CHARDEV_VERSION_MAJOR VDC_CHARDEV_VERSION_MINOR VDC_CHARDEV_VERSION_MICRO\n' \
    > "$tmp/v.c"
hv=$($CC -E -P -I. "$tmp/v.c" | awk '$1 == "V" { print $2 "." $3 "." $4 }')
mv="$VERSION_MAJOR.$VERSION_MINOR.$VERSION_MICRO"
[ "$hv" = "$mv" ] \
    || fail "vdagent/vdc-version.h says $hv, the Makefile $mv"

# 6. the names the public headers define, from the preprocessor's view of
# each header's own lines (line markers tell them from glib's)
for h in $PUBLIC_HEADERS; do
    case "${h##*/}" in
        "$HEADER_PREFIX"*) ;;
        *) fail "public header $h: its file name does not start with $HEADER_PREFIX" ;;
    esac
done
# shellcheck disable=SC2086
$CC -std=gnu11 -I. $PKG_CFLAGS -E -dD "$tmp/all.c" 2> /dev/null | awk -v pub=" $PUBLIC_HEADERS " '
    /^# [0-9]+ "/ { f = $3; gsub(/"/, "", f); sub(/^\.\//, "", f)
                    mine = index(pub, " " f " ") > 0; next }
    mine' > "$tmp/pub.i"
{
    grep -oE '^#define +[A-Za-z_][A-Za-z0-9_]*' "$tmp/pub.i" | awk '{ print $2 }'
    grep -v '^#' "$tmp/pub.i" | tr '\n' ' ' > "$tmp/pub.txt"
    grep -oE '(struct|enum|union) +[A-Za-z_][A-Za-z0-9_]* *\{' "$tmp/pub.txt" \
        | awk '{ sub(/\{/, ""); print $2 }'
    grep -oE 'typedef [^;{}]*[A-Za-z_][A-Za-z0-9_]* *;' "$tmp/pub.txt" \
        | grep -v '(' | sed -E 's/ *;$//; s/.*[ *]//'
    grep -oE 'typedef [^;{}]*\( *\* *[A-Za-z_][A-Za-z0-9_]* *\)' "$tmp/pub.txt" \
        | sed -E 's/.*\* *//; s/ *\)$//'
    # typedef struct/enum/union { ... } NAME; (members' "} x;" are not names)
    sed -E 's/([{};])/\n\1\n/g' "$tmp/pub.txt" | awk '
        $0 == "{" { t = (d == 0 && stmt ~ /(^|[^A-Za-z0-9_])typedef /)
                    td[++d] = t; stmt = ""; next }
        $0 == "}" { after = td[d--]; stmt = ""; next }
        $0 == ";" { if (after && d == 0 && match(stmt, /[A-Za-z_][A-Za-z0-9_]* *$/))
                        print substr(stmt, RSTART, RLENGTH)
                    after = 0; stmt = ""; next }
        { stmt = stmt $0 }' | sed 's/ *$//'
    grep -oE 'enum *[A-Za-z0-9_]* *\{[^}]*\}' "$tmp/pub.txt" \
        | sed -E 's/^[^{]*\{//; s/\}$//' | tr ',' '\n' \
        | sed -E 's/^ *//; s/[^A-Za-z0-9_].*//' | grep -v '^$'
} | sort -u > "$tmp/names"
[ "$(wc -l < "$tmp/names")" -ge 100 ] \
    || fail "only $(wc -l < "$tmp/names") names found in the public headers"
re="^($(echo $NAME_PREFIXES | sed 's/ /|/g'))"
grep -Ev "$re" "$tmp/names" > "$tmp/badname"
while read -r s; do fail "a public header defines $s, outside $NAME_PREFIXES"; done \
    < "$tmp/badname"

if [ "$fails" -ne 0 ]; then
    echo "check-symbols: $fails failure(s)"
    exit 1
fi
echo "PASS check-symbols: $SO_NAME ($soname), $(wc -l < "$tmp/exported") symbols" \
     "($(wc -l < "$tmp/functions") functions, $(wc -l < "$tmp/variables") variables)," \
     "prefixes $PUBLIC_PREFIXES, $(wc -l < "$tmp/names") names in the public" \
     "headers under $NAME_PREFIXES, version $hv"

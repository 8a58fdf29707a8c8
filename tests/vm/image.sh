#!/usr/bin/env bash
# tests/vm/image.sh CACHE: build the check-vm guest (once) into CACHE.
#
# CACHE/rootfs        debootstrap --variant=minbase of Debian 12 with the
#                     packages of tests/vm/packages (about 4 min, 1.3 GB)
# CACHE/rootfs.img    an ext4 image of it (mke2fs -d), booted read-only
# CACHE/vmlinuz, CACHE/initrd.img   the guest's own kernel and initrd
#
# Each stage carries a stamp, the sha256 of its recipe: the rootfs's is the
# package list and the suite; the image's adds this script and the guest's
# files (tests/vm/guest-init, tests/vm/guest-lib.sh).  A stage whose stamp
# differs is rebuilt; one whose stamp matches is reused as is.  Prints the
# time each stage took.  Needs root (debootstrap), and flocks CACHE.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
C=${1:?usage: $0 CACHE}
SUITE=bookworm
mkdir -p "$C"
C=$(cd "$C" && pwd)
exec 9>"$C/lock"
flock 9

pkgs=$(grep -v '^#' "$HERE/packages" | grep . | paste -sd, -)
rootfs_stamp=$( { echo "$SUITE"; echo "$pkgs"; } | sha256sum | cut -c1-16)
image_stamp=$( { echo "$rootfs_stamp"; cat "$HERE/image.sh" "$HERE/guest-init" \
                  "$HERE/guest-lib.sh"; } | sha256sum | cut -c1-16)

if [ "$(cat "$C/image.stamp" 2>/dev/null)" = "$image_stamp" ] &&
   [ -f "$C/rootfs.img" ] && [ -f "$C/vmlinuz" ] && [ -f "$C/initrd.img" ]; then
    echo "# guest image: cached in $C ($image_stamp)"
    exit 0
fi
rm -f "$C/image.stamp"

t0=$SECONDS
if [ "$(cat "$C/rootfs.stamp" 2>/dev/null)" != "$rootfs_stamp" ] || [ ! -d "$C/rootfs" ]; then
    mirror=${VM_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources \
                           2>/dev/null | head -1)}
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "# guest image: debootstrap $SUITE from $mirror (a few minutes)"
    rm -rf "$C/rootfs" "$C/rootfs.new" "$C/rootfs.stamp"
    if ! debootstrap --variant=minbase --include="$pkgs" "$SUITE" "$C/rootfs.new" \
            "$mirror" >"$C/debootstrap.log" 2>&1; then
        echo "# debootstrap failed; the end of $C/debootstrap.log:" >&2
        tail -20 "$C/debootstrap.log" >&2
        exit 1
    fi
    rm -f "$C"/rootfs.new/var/cache/apt/archives/*.deb
    mv "$C/rootfs.new" "$C/rootfs"
    echo "$rootfs_stamp" >"$C/rootfs.stamp"
    echo "# guest image: rootfs in $((SECONDS - t0)) s"
fi

t1=$SECONDS
R=$C/rootfs
install -m 0755 "$HERE/guest-init" "$R/guest-init"
install -m 0644 "$HERE/guest-lib.sh" "$R/guest-lib.sh"
[ -s "$R/etc/machine-id" ] || tr -d - </proc/sys/kernel/random/uuid >"$R/etc/machine-id"
cp -L "$R/vmlinuz" "$C/vmlinuz.new"
cp -L "$R/initrd.img" "$C/initrd.img.new"
rm -f "$C/rootfs.img.new"
truncate -s 1500M "$C/rootfs.img.new"
mke2fs -q -F -t ext4 -d "$R" -L guestroot "$C/rootfs.img.new"
mv "$C/vmlinuz.new" "$C/vmlinuz"
mv "$C/initrd.img.new" "$C/initrd.img"
mv "$C/rootfs.img.new" "$C/rootfs.img"
echo "$image_stamp" >"$C/image.stamp"
echo "# guest image: ext4 image in $((SECONDS - t1)) s ($image_stamp, $C)"

#!/bin/sh
# test-image.sh - make sure the podman image the tests run exists:
# localhost/debmin:bookworm, a debootstrap minbase of Debian 12.
# The rootfs tarball is cached in $VIGIL_CACHE (default /var/cache/vigil) so a
# second run takes a second, not the ~45 s of debootstrap.
set -eu
IMAGE=${VIGIL_TEST_IMAGE:-localhost/debmin:bookworm}
CACHE=${VIGIL_CACHE:-/var/cache/vigil}
TAR=$CACHE/debmin-bookworm.tar
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")/.." && pwd)/tests/podman/containers.conf}

if podman image exists "$IMAGE" 2>/dev/null; then
	exit 0
fi
mkdir -p "$CACHE"
if [ ! -s "$TAR" ]; then
	# the mirror this machine's apt already uses
	MIRROR=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
		| grep -v security | head -1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb (\[[^]]*\] )?//; s/[[:space:]].*//')
	[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
	DIR=$(mktemp -d "$CACHE/rootfs.XXXXXX")
	trap 'rm -rf "$DIR"' EXIT
	echo "test-image: debootstrap bookworm from $MIRROR (once; cached in $TAR)" >&2
	debootstrap --variant=minbase bookworm "$DIR" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
	tar -C "$DIR" -cf "$TAR.tmp" .
	mv "$TAR.tmp" "$TAR"
fi
podman import "$TAR" "$IMAGE" >/dev/null
echo "test-image: imported $IMAGE" >&2

#!/bin/sh
# image.sh - vigil's container image (deploy/'s vigil:VERSION), assembled offline from this
# Debian 12 machine's files: no registry, no network.
#
#   scripts/image.sh [BUILD]     (BUILD: the CMake build directory, default ./build)
#
# The root filesystem holds what `make install DESTDIR=rootfs PREFIX=/usr` installs (the
# binary, stripped; the reference copies of the built-in policies and plugins; the example
# configuration), the shared libraries the binary loads (ldd: the dynamic loader, libc,
# libcurl and what it loads), the CA bundle libcurl verifies notifier endpoints with, and
# minimal passwd, group and nsswitch.conf files. No shell, no package manager, no kubectl
# (in a pod vigil reads its service account's files; kubectl is only for a kubeconfig).
# It is imported as localhost/vigil:VERSION and localhost/vigil:latest.
#
# The image runs as root (uid 0) with the capabilities the DaemonSet adds: see
# deploy/README.md, "The image", for why not another user.
#
# An image made from the same binary and the same version of this script is kept (its
# label vigil.source names both): a second run takes a second.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)

die() {
	echo "image: $*" >&2
	exit 1
}

command -v podman >/dev/null 2>&1 ||
	die "podman is not installed: run scripts/deps.sh as root (it installs podman)"
[ -x "$BUILD/vigil" ] || die "no vigil binary in $BUILD: build first (make build)"
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
[ -n "$VERSION" ] || die "no project version in $BUILD/CMakeCache.txt: configure with cmake first"
IMAGE=localhost/vigil
KEY=$(cat "$BUILD/vigil" "$0" | sha256sum | cut -d' ' -f1)

have=$(podman image inspect --format '{{index .Config.Labels "vigil.source"}}' \
	"$IMAGE:$VERSION" 2>/dev/null || true)
if [ "$have" = "$KEY" ]; then
	echo "image: $IMAGE:$VERSION is up to date (made from this binary)" >&2
	exit 0
fi

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/vigil-image.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
chmod 0755 "$ROOT"

# Debian 12's merged /usr: /bin, /lib and /lib64 are links into /usr
mkdir -p "$ROOT/usr/bin" "$ROOT/usr/lib" "$ROOT/usr/lib64" "$ROOT/etc/ssl/certs" \
	"$ROOT/tmp" "$ROOT/var/lib/vigil" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev"
ln -s usr/bin "$ROOT/bin"
ln -s usr/lib "$ROOT/lib"
ln -s usr/lib64 "$ROOT/lib64"
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/var/lib/vigil"

# make install, as the Makefile does it, then drop what a container has no use for
DESTDIR=$ROOT cmake --install "$BUILD" --prefix /usr --strip >/dev/null
rm -rf "$ROOT/usr/share/man" "$ROOT/usr/share/doc" "$ROOT/usr/share/bash-completion" \
	"$ROOT/lib/systemd" "$ROOT/usr/lib/systemd"

# The libraries, each under the path the loader looks it up by. A path through a link of
# the host's (/lib -> usr/lib, a soname -> its file) is the same link in the image.
copy_lib() {
	real=$(readlink -f "$1")
	mkdir -p "$ROOT$(dirname "$real")"
	cp -p "$real" "$ROOT$real"
	want=$(readlink -f "$(dirname "$1")")/$(basename "$1")
	if [ "$want" != "$real" ] && [ ! -e "$ROOT$want" ]; then
		mkdir -p "$ROOT$(dirname "$want")"
		ln -s "$real" "$ROOT$want"
	fi
}
libs=$(ldd "$BUILD/vigil" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libs" ] || die "ldd found no libraries for $BUILD/vigil"
for l in $libs; do
	copy_lib "$l"
done

# libcurl verifies TLS peers (notifier endpoints) against the system bundle
CA=/etc/ssl/certs/ca-certificates.crt
[ -s "$CA" ] || die "no CA bundle at $CA: run scripts/deps.sh as root (ca-certificates)"
cp -L "$CA" "$ROOT$CA"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$ROOT/etc/nsswitch.conf"

# the binary really runs in that tree: every library found, nothing of the host's used
# (chroot needs root; podman rootless makes the image all the same)
if [ "$(id -u)" = 0 ] && ! chroot "$ROOT" /usr/bin/vigil --version >/dev/null 2>&1; then
	die "vigil does not start in the image's tree: $(chroot "$ROOT" /usr/bin/vigil --version 2>&1)"
fi

old=$(podman image inspect --format '{{.Id}}' "$IMAGE:$VERSION" 2>/dev/null || true)

tar --numeric-owner --owner=0 --group=0 -C "$ROOT" -cf - . | podman import --quiet \
	--change 'ENTRYPOINT []' \
	--change 'CMD ["vigil", "run", "--config", "/etc/vigil/vigil.conf.lua"]' \
	--change 'WORKDIR /etc/vigil' \
	--change 'USER 0:0' \
	--change 'ENV PATH=/usr/bin' \
	--change 'EXPOSE 8077/tcp' \
	--change "LABEL org.opencontainers.image.title=vigil" \
	--change "LABEL org.opencontainers.image.version=$VERSION" \
	--change "LABEL org.opencontainers.image.description=vigil runtime policy engine" \
	--change "LABEL vigil.source=$KEY" \
	--message "vigil $VERSION" - "$IMAGE:$VERSION" >/dev/null
podman tag "$IMAGE:$VERSION" "$IMAGE:latest"
# the image this one replaces, unless another name or a container still uses it
if [ -n "$old" ]; then
	podman image rm "$old" >/dev/null 2>&1 || true
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE:$VERSION")
echo "image: $IMAGE:$VERSION and $IMAGE:latest, $((size / 1000000)) MB" >&2

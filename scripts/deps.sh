#!/bin/sh
# deps.sh - install the Debian packages of scripts/packages.txt that are missing.
# One name a line; '#' starts a comment.
# Needs root only when something is missing; prints what it installs.
set -eu
LIST=$(dirname "$0")/packages.txt
missing=
# "pkg@cmd": needed only when no `cmd` is on the PATH (some images ship kubectl from
# elsewhere, and Debian's kubernetes-client would conflict with it)
for p in $(grep -v '^#' "$LIST"); do
	case $p in
	*@*) command -v "${p#*@}" >/dev/null 2>&1 && continue; p=${p%@*} ;;
	esac
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

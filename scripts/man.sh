#!/bin/sh
# Renders `vigil --help` and every `vigil COMMAND --help` into one troff man page, vigil.1,
# so the manual says what the binary says. Usage: scripts/man.sh VIGIL_BINARY OUT_FILE
set -eu
vigil=$1
out=$2
# troff: a leading '.' or "'" is a request, a backslash an escape
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
version=$("$vigil" version | sed 's/^vigil //')
{
	printf '.TH VIGIL 1 "" "vigil %s" "User Commands"\n' "$version"
	printf '.SH NAME\nvigil \\- runtime policy engine for Linux containers\n'
	printf '.SH SYNOPSIS\n.B vigil\n.I COMMAND\n[options]\n'
	printf '.SH DESCRIPTION\n.nf\n'
	"$vigil" --help | esc
	printf '.fi\n.SH COMMANDS\n'
	for cmd in $("$vigil" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p'); do
		printf '.SS %s\n.nf\n' "$cmd"
		"$vigil" "$cmd" --help | esc
		printf '.fi\n'
	done
	printf '.SH FILES\n.TP\n/etc/vigil/vigil.conf.lua\nthe configuration'
	printf ' (the unit passes it with \\-\\-config)\n.TP\n/var/lib/vigil\n'
	printf 'the data directory: store, API token, lock\n'
	printf '.SH SEE ALSO\nsystemctl(1), the README in /usr/share/doc/vigil\n'
} >"$out.tmp"
mv "$out.tmp" "$out"

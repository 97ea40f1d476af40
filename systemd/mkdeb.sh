#!/usr/bin/env bash
# mkdeb.sh BINARY VERSION OUTDIR: builds posd_VERSION_ARCH.deb with dpkg-deb from the repo's
# files. Run by `make deb` (DEB_ARCH=arm64 for `make deb ARCH=arm64`); checked by cmd/posd's
# TestDeb and, installed for real, by systemd/test-deb.sh.
set -euo pipefail
bin=$1 version=$2 out=$3
root=$(cd "$(dirname "$0")/.." && pwd)
arch=${DEB_ARCH:-$(dpkg --print-architecture 2>/dev/null || go env GOARCH)}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
umask 022

install -D -m 0755 "$bin" "$stage/usr/bin/posd"
install -D -m 0644 "$root/systemd/posd.service" "$stage/lib/systemd/system/posd.service"
install -D -m 0644 "$root/systemd/posd.sysusers" "$stage/usr/lib/sysusers.d/posd.conf"
install -D -m 0644 "$root/systemd/posd.tmpfiles" "$stage/usr/lib/tmpfiles.d/posd.conf"
if [ -f "$root/systemd/60-posd-scanners.rules" ]; then
	install -D -m 0644 "$root/systemd/60-posd-scanners.rules" "$stage/lib/udev/rules.d/60-posd-scanners.rules"
fi
install -D -m 0644 "$root/configs/posd.toml" "$stage/etc/posd/posd.toml"
install -D -m 0644 "$root/systemd/posd.logrotate" "$stage/etc/logrotate.d/posd"
doc=$stage/usr/share/doc/posd
install -D -m 0644 "$root/docs/install.md" "$doc/install.md"
[ -f "$root/README.md" ] && install -D -m 0644 "$root/README.md" "$doc/README.md"
install -D -m 0644 "$root/systemd/deb/copyright" "$doc/copyright"
# Debian policy §12.7: a changelog, compressed (changelog.gz for a native version without
# a Debian revision); dates from the commit, so builds repeat.
changelog=changelog.gz
case $version in *-*) changelog=changelog.Debian.gz ;; esac
date=$(git -C "$root" log -1 --format=%cD 2>/dev/null || date -R)
printf 'posd (%s) unstable; urgency=medium\n\n  * Build of %s.\n\n -- posd maintainers <posd@example.invalid>  %s\n' \
	"$version" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$date" |
	gzip -9n >"$doc/$changelog"
chmod 0644 "$doc/$changelog"
# Manual pages generated from -h and the example config (make man; TestManPages).
for p in posd.8:man8 posd.toml.5:man5; do
	install -d -m 0755 "$stage/usr/share/man/${p#*:}"
	gzip -9n <"$root/docs/man/${p%%:*}" >"$stage/usr/share/man/${p#*:}/${p%%:*}.gz"
	chmod 0644 "$stage/usr/share/man/${p#*:}/${p%%:*}.gz"
done
# The fleet monitoring kit: Prometheus rules and tests, Grafana dashboard.
if [ -d "$root/configs/monitoring" ]; then
	for f in "$root"/configs/monitoring/*; do
		case $f in *_test.go) continue ;; esac
		install -D -m 0644 "$f" "$stage/usr/share/posd/$(basename "$f")"
	done
fi
install -D -m 0644 "$root/systemd/deb/lintian-overrides" "$stage/usr/share/lintian/overrides/posd"

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" "$root/systemd/deb/control.in" >"$stage/DEBIAN/control"
echo "Installed-Size: $size" >>"$stage/DEBIAN/control"
printf '/etc/posd/posd.toml\n/etc/logrotate.d/posd\n' >"$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "$root/systemd/deb/$s" "$stage/DEBIAN/$s"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/control"
mkdir -p "$out"
deb="$out/posd_${version}_${arch}.deb"
SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s) \
	dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >/dev/null
echo "$deb"

#!/usr/bin/env bash
# mkdeb.sh BINARY VERSION OUTDIR: builds posd_VERSION_ARCH.deb with dpkg-deb from the repo's
# files. Run by `make deb`; checked by cmd/posd's TestDeb.
set -euo pipefail
bin=$1 version=$2 out=$3
root=$(cd "$(dirname "$0")/.." && pwd)
arch=${DEB_ARCH:-$(dpkg --print-architecture 2>/dev/null || go env GOARCH)}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

install -D -m 0755 "$bin" "$stage/usr/bin/posd"
install -D -m 0644 "$root/systemd/posd.service" "$stage/lib/systemd/system/posd.service"
install -D -m 0644 "$root/systemd/posd.sysusers" "$stage/usr/lib/sysusers.d/posd.conf"
install -D -m 0644 "$root/systemd/posd.tmpfiles" "$stage/usr/lib/tmpfiles.d/posd.conf"
if [ -f "$root/systemd/60-posd-scanners.rules" ]; then
	install -D -m 0644 "$root/systemd/60-posd-scanners.rules" "$stage/lib/udev/rules.d/60-posd-scanners.rules"
fi
install -D -m 0644 "$root/configs/posd.toml" "$stage/etc/posd/posd.toml"
install -D -m 0644 "$root/docs/install.md" "$stage/usr/share/doc/posd/install.md"
[ -f "$root/README.md" ] && install -D -m 0644 "$root/README.md" "$stage/usr/share/doc/posd/README.md"

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" "$root/systemd/deb/control.in" >"$stage/DEBIAN/control"
echo "Installed-Size: $size" >>"$stage/DEBIAN/control"
echo /etc/posd/posd.toml >"$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "$root/systemd/deb/$s" "$stage/DEBIAN/$s"
done
mkdir -p "$out"
deb="$out/posd_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >/dev/null
echo "$deb"

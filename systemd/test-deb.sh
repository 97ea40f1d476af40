#!/usr/bin/env bash
# test-deb.sh [BINARY]: installs the posd package into THIS machine with dpkg (run as root,
# on a CI machine or a throwaway VM, never on a till), upgrades, removes and purges it, and
# checks at each step what IT relies on. Everything it created is removed at the end.
# Works without systemd as PID 1 (CI containers): the maintainer scripts must cope.
#
#   install 1.0.0   user posd (sysusers) in dialout/lp/plugdev; /etc/posd 750 root:posd,
#                   /var/lib/posd 700 posd:posd, /var/log/posd 750 posd:posd (tmpfiles);
#                   systemd-analyze verify; enabled (symlink); conffiles registered; man
#                   pages render; posd check-config on the installed example names the
#                   missing credentials; a real journal written by posd in /var/lib/posd
#   upgrade 1.0.1   (whose example config changed) with --force-confold: the local edit of
#                   /etc/posd/posd.toml is kept, the new one is posd.toml.dpkg-dist; the
#                   journal is unchanged
#   remove          binary and unit gone; conffiles and journal stay
#   purge           config and logs gone, the journal stays
#   purge again     with /var/lib/posd/PURGE, and with POSD_PURGE_DATA=1: the journal goes
#   lintian         no errors, no warnings that systemd/deb/lintian-overrides does not explain
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "test-deb.sh installs packages: run it as root (CI does)" >&2
	exit 1
fi
if dpkg -s posd >/dev/null 2>&1; then
	echo "posd is already installed here: test-deb.sh only runs on a machine without it" >&2
	exit 1
fi
bin=${1:-}
work=$(mktemp -d)
had_user=$(getent passwd posd >/dev/null && echo yes || echo no)
had_credstore=$([ -d /etc/credstore ] && echo yes || echo no)
had_lib=$([ -e /var/lib/posd ] && echo yes || echo no)
# man-db rebuilds its whole index after every dpkg run here (seconds each on a CI box);
# its own switch (debconf man-db/auto-update) turns that off for the test and back on after.
man_auto=$([ -e /var/lib/man-db/auto-update ] && echo yes || echo no)
rm -f /var/lib/man-db/auto-update
cleanup() {
	[ "$man_auto" = yes ] && touch /var/lib/man-db/auto-update
	dpkg -s posd >/dev/null 2>&1 && POSD_PURGE_DATA=1 dpkg -P posd >/dev/null 2>&1
	[ "$had_lib" = no ] && rm -rf /var/lib/posd
	if [ "$had_user" = no ] && getent passwd posd >/dev/null; then
		userdel posd 2>/dev/null || true
		getent group posd >/dev/null && groupdel posd 2>/dev/null || true
	fi
	[ "$had_credstore" = no ] && rmdir /etc/credstore 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "  ok: $*"; }

if [ -z "$bin" ]; then
	make -C "$root" -s build VERSION=1.0.0 >/dev/null
	bin=$root/posd
fi
bash "$root/systemd/mkdeb.sh" "$bin" 1.0.0 "$work/v1" >/dev/null
# The next version's example config differs, as a real upgrade's often does.
mkdir -p "$work/v2src/configs"
cp -r "$root/systemd" "$root/docs" "$root/README.md" "$work/v2src/"
[ -d "$root/monitoring" ] && cp -r "$root/monitoring" "$work/v2src/"
{ cat "$root/configs/posd.toml"; echo "# (1.0.1: a new comment in the example)"; } >"$work/v2src/configs/posd.toml"
bash "$work/v2src/systemd/mkdeb.sh" "$bin" 1.0.1 "$work/v2" >/dev/null
v1=$(ls "$work"/v1/*.deb) v2=$(ls "$work"/v2/*.deb)
echo "== lintian $(basename "$v1")"
lintian --fail-on error,warning "$v1" >"$work/lintian" 2>&1 || { cat "$work/lintian"; fail "lintian reports errors or unexplained warnings"; }
ok "lintian: no errors, every warning overridden with its reason (systemd/deb/lintian-overrides)"

echo "== dpkg -i $(basename "$v1")"
dpkg -i "$v1" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
id posd >/dev/null || fail "no user posd"
for g in dialout lp plugdev; do
	id -nG posd | tr ' ' '\n' | grep -qx "$g" || fail "posd is not in group $g"
done
[ "$(getent passwd posd | cut -d: -f6,7)" = /var/lib/posd:/usr/sbin/nologin ] || fail "posd's home/shell: $(getent passwd posd)"
ok "user posd (sysusers): home /var/lib/posd, nologin, groups $(id -nG posd)"
for d in "/etc/posd 750 root posd" "/var/lib/posd 700 posd posd" "/var/log/posd 750 posd posd" "/etc/credstore 700 root root"; do
	set -- $d
	got=$(stat -c '%a %U %G' "$1")
	[ "$got" = "$2 $3 $4" ] || fail "$1: $got, want $2 $3 $4"
done
[ "$(stat -c '%a %U %G' /etc/posd/posd.toml)" = "640 root posd" ] || fail "/etc/posd/posd.toml: $(stat -c '%a %U %G' /etc/posd/posd.toml)"
ok "directories (tmpfiles): /etc/posd 750 root:posd, /var/lib/posd 700 posd:posd, /var/log/posd 750 posd:posd; posd.toml 640 root:posd"
out=$(systemd-analyze verify /lib/systemd/system/posd.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
ok "systemd-analyze verify /lib/systemd/system/posd.service: clean"
[ -L /etc/systemd/system/multi-user.target.wants/posd.service ] || fail "posd.service not enabled"
ok "enabled without systemd as PID 1 (deb-systemd-helper symlink), not started"
conf=$(dpkg-query -W -f='${Conffiles}' posd)
for c in /etc/posd/posd.toml /etc/logrotate.d/posd; do
	grep -q " $c " <<<"$conf " || fail "$c is not a conffile: $conf"
done
ok "conffiles: /etc/posd/posd.toml /etc/logrotate.d/posd"
for m in 8:posd 5:posd.toml; do
	w=$(MANWIDTH=80 man --warnings "${m%%:*}" "${m#*:}" 2>&1 >/dev/null) || fail "man ${m%%:*} ${m#*:}"
	[ -z "$w" ] || fail "man ${m#*:}(${m%%:*}): $w"
done
ok "man posd(8), posd.toml(5) render without warnings"
rc=0
posd check-config -config /etc/posd/posd.toml >"$work/cc" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q '^http.api_token_file: ' "$work/cc" && grep -q '^wxpay.private_key_file: ' "$work/cc" ||
	{ cat "$work/cc"; fail "check-config on the installed example: exit $rc"; }
ok "posd check-config (installed example): exit 2, missing $(cut -d: -f1 "$work/cc" | sort -u | tr '\n' ' ')"
ls /usr/share/posd/ >/dev/null 2>&1 && ok "monitoring kit: /usr/share/posd/{$(ls /usr/share/posd | tr '\n' ',' | sed 's/,$//')}"

# A real journal: posd (the demo) writes its bbolt journal into /var/lib/posd as user posd.
port=$((20000 + RANDOM % 20000))
setpriv --reuid=posd --regid=posd --init-groups timeout 60 posd demo -listen "127.0.0.1:$port" -dir /var/lib/posd >"$work/demo" 2>&1 &
dpid=$!
for _ in $(seq 1 300); do
	curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '"ready":true' && break
	sleep 0.1
done
kill -TERM "$dpid"
wait "$dpid" || true
[ -s /var/lib/posd/posd.db ] || { cat "$work/demo"; fail "no journal written in /var/lib/posd"; }
sum=$(sha256sum /var/lib/posd/posd.db)
ok "journal /var/lib/posd/posd.db written by posd as user posd"

echo "== upgrade to $(basename "$v2") (local edit of posd.toml, new example in the package)"
echo "# local edit by IT" >>/etc/posd/posd.toml
dpkg -i --force-confold "$v2" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "upgrade"; }
[ "$(dpkg-query -W -f='${Version}' posd)" = 1.0.1 ] || fail "version after upgrade"
tail -1 /etc/posd/posd.toml | grep -q "local edit by IT" || fail "the local edit of posd.toml was lost"
[ -f /etc/posd/posd.toml.dpkg-dist ] || fail "no posd.toml.dpkg-dist with the new example"
ok "conffile kept on upgrade (--force-confold), new example in posd.toml.dpkg-dist"
[ "$(sha256sum /var/lib/posd/posd.db)" = "$sum" ] || fail "the journal changed on upgrade"
ok "journal unchanged by the upgrade ($(cut -c1-12 <<<"$sum"))"

echo "== dpkg -r posd"
dpkg -r posd >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "remove"; }
[ ! -e /usr/bin/posd ] && [ ! -e /lib/systemd/system/posd.service ] || fail "files left after remove"
[ -f /etc/posd/posd.toml ] && [ -f /var/lib/posd/posd.db ] || fail "remove took the config or the journal"
ok "remove: binary and unit gone; config and journal kept"

echo "== dpkg -P posd"
dpkg -P posd >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "purge"; }
[ ! -e /etc/posd ] && [ ! -e /var/log/posd ] && [ ! -e /etc/logrotate.d/posd ] || fail "purge left config or logs: $(ls -d /etc/posd /var/log/posd /etc/logrotate.d/posd 2>/dev/null)"
[ ! -e /etc/systemd/system/multi-user.target.wants/posd.service ] || fail "purge left the enablement symlink"
[ "$(sha256sum /var/lib/posd/posd.db)" = "$sum" ] || fail "purge touched the journal"
ok "purge: config, logs and enablement gone; journal kept (the record of money taken)"

echo "== purge with /var/lib/posd/PURGE, then with POSD_PURGE_DATA=1"
dpkg -i "$v1" >/dev/null 2>&1 || fail "reinstall"
[ "$(sha256sum /var/lib/posd/posd.db)" = "$sum" ] || fail "reinstall touched the kept journal"
touch /var/lib/posd/PURGE
dpkg -P posd >/dev/null 2>&1 || fail "purge"
[ ! -e /var/lib/posd ] || fail "purge with the PURGE marker kept /var/lib/posd"
dpkg -i "$v1" >/dev/null 2>&1 || fail "reinstall"
touch /var/lib/posd/posd.db
POSD_PURGE_DATA=1 dpkg -P posd >/dev/null 2>&1 || fail "purge"
[ ! -e /var/lib/posd ] || fail "POSD_PURGE_DATA=1 purge kept /var/lib/posd"
ok "reinstall keeps the old journal; purge deletes it only when asked (PURGE marker or POSD_PURGE_DATA=1)"
echo "test-deb: all checks passed"

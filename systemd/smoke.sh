#!/usr/bin/env bash
# smoke.sh BINARY [RUNNER...]: the smoke test of a built posd, also for another architecture
# under qemu-user (RUNNER = qemu-aarch64-static -L /usr/aarch64-linux-gnu). Checks:
# `posd version`, `posd check-config` on the example config naming the missing
# credentials, and `posd demo` answering /healthz with ready=true. Time-bounded.
set -euo pipefail
bin=$1
shift
runner=("$@")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

out=$(timeout 60 "${runner[@]}" "$bin" version)
echo "  version: $(echo "$out" | head -1)"
rc=0
timeout 60 "${runner[@]}" "$bin" check-config -config "$root/configs/posd.toml" >"$work/cc" 2>&1 || rc=$?
if [ "$rc" != 2 ] || ! grep -q '^http.api_token_file: ' "$work/cc" || ! grep -q '^wxpay.private_key_file: ' "$work/cc"; then
	echo "check-config on the example: exit $rc, want 2 naming the missing credentials:" >&2
	cat "$work/cc" >&2
	exit 1
fi
echo "  check-config: exit 2, missing: $(cut -d: -f1 "$work/cc" | sort -u | tr '\n' ' ')"

port=$((20000 + RANDOM % 20000))
timeout 120 "${runner[@]}" "$bin" demo -listen "127.0.0.1:$port" -dir "$work/demo" >"$work/demo.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do # up to 60 s: qemu on a loaded machine starts slowly
	if body=$(curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null) && grep -q '"ready":true' <<<"$body"; then
		echo "  demo: /healthz 200 ready=true on 127.0.0.1:$port"
		kill -TERM "$pid"
		wait "$pid" || true
		pid=
		exit 0
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
done
echo "demo did not answer /healthz:" >&2
cat "$work/demo.out" >&2
exit 1

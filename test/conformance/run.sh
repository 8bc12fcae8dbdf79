#!/usr/bin/env bash
# Conformance suite: runs the Azure Key Vault Python SDK, JavaScript SDK and
# Azure CLI against a real KeyVault server and regenerates
# docs/compatibility.md from their results.
#
# Usage (as root): bash test/conformance/run.sh [python] [js] [az]
# With no arguments all three suites run.
#
# The server and every client run inside a new network and mount namespace
# (unshare -n -m). It has only the loopback interface, a private /etc/hosts
# that names the vault hosts, and a resolv.conf that points at 127.0.0.1.
# So no client can send a packet off this machine, whatever its settings.
#
# Results go to test/conformance/results/CLIENT.jsonl, one JSON object a line:
# {"client", "area", "operation", "result" ("pass", "fail" or "skip"), "detail"},
# and the client's package versions to CLIENT.versions.json. The page is
# rebuilt from every results file present, so a run of one suite keeps the
# others' last results.
# KV_CONFORMANCE_BINARY names a keyvault binary to use instead of building one.
# A client that is not installed is skipped, unless CI=true, where it fails.
# The exit status is 1 if any operation failed or a suite could not run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${KV_CONFORMANCE_PORT:-8443}
vault_hosts="default.vault.localhost vault.localhost conf-vault.vault.localhost az-vault.vault.localhost"

log() { echo "== conformance $(date -u +%H:%M:%S) $*"; }

# skip_or_fail CLIENT REASON records a suite that cannot run, as a skip on a
# developer machine and as a failure in CI.
skip_or_fail() {
	local client=$1 reason=$2 result=skip
	if [ "${CI:-}" = "true" ]; then
		result=fail
	fi
	log "$client: $result: $reason"
	/usr/bin/env python3 -c 'import json,sys; print(json.dumps({"client": sys.argv[1], "area": "suite", "operation": "run suite", "result": sys.argv[2], "detail": sys.argv[3]}))' \
		"$client" "$result" "$reason" >"$results/$client.jsonl"
}

# inside runs in the new namespace. It sets up name resolution and the
# loopback interface, starts the server and runs the requested suites.
inside() {
	local work=$1
	shift
	printf '127.0.0.1 localhost %s management.localhost\n127.0.0.1 login.microsoftonline.com login.windows.net management.azure.com graph.microsoft.com\n::1 localhost\n' \
		"$vault_hosts" >"$work/hosts"
	echo "nameserver 127.0.0.1" >"$work/resolv.conf"
	mount --bind "$work/hosts" /etc/hosts
	mount --bind "$work/resolv.conf" /etc/resolv.conf
	ip link set lo up

	local data=$work/data
	"$work/keyvault" serve --data-dir "$data" --addr "127.0.0.1:$port" --log-format json >"$work/server.log" 2>&1 &
	server_pid=$!
	trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT
	trap 'exit 1' INT TERM

	local ready=""
	for _ in $(seq 1 150); do
		if [ -f "$data/ca.pem" ] && curl -sf --cacert "$data/ca.pem" "https://localhost:$port/readyz" >/dev/null 2>&1; then
			ready=1
			break
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			break
		fi
		sleep 0.2
	done
	if [ -z "$ready" ]; then
		log "server did not become ready; its log:"
		cat "$work/server.log"
		return 1
	fi
	log "server ready on 127.0.0.1:$port"

	export KV_DATA_DIR=$data KV_PORT=$port KV_RESULTS_DIR=$results
	export REQUESTS_CA_BUNDLE=$data/ca.pem SSL_CERT_FILE=$data/ca.pem NODE_EXTRA_CA_CERTS=$data/ca.pem
	# Each suite also turns telemetry and instance discovery off in its own
	# client settings. These variables cover the libraries that read them.
	export AZURE_CORE_COLLECT_TELEMETRY=false AZURE_TELEMETRY_DISABLED=true
	unset AZURE_AUTHORITY_HOST AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID HTTPS_PROXY HTTP_PROXY https_proxy http_proxy

	# Each suite took under a minute on a 2-core machine, so the limit only
	# stops a client that hangs.
	local limit=(timeout --kill-after=30 900)
	local status=0 suite
	for suite in "$@"; do
		log "$suite suite"
		local start=$SECONDS
		case $suite in
		python)
			"${limit[@]}" /usr/bin/python3 "$here/python/test_conformance.py" || status=1
			;;
		js)
			(cd "$here/js" && "${limit[@]}" node --test --test-concurrency=1 conformance.test.mjs) || status=1
			;;
		az)
			"${limit[@]}" bash "$here/az/az_conformance.sh" || status=1
			;;
		esac
		log "$suite suite took $((SECONDS - start))s"
	done
	return $status
}

results=${KV_RESULTS_DIR:-$here/results}
if [ "${1:-}" = "--inside" ]; then
	shift
	inside "$@"
	exit
fi

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
	suites=(python js az)
fi
mkdir -p "$results"

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	for s in "${suites[@]}"; do
		skip_or_fail "$s" "run.sh needs root and unshare to make a loopback-only namespace"
	done
	[ "${CI:-}" = "true" ] && exit 1
	exit 0
fi

# Check each client. A missing one is skipped, or fails in CI.
runnable=()
status=0
for s in "${suites[@]}"; do
	rm -f "$results/$s.jsonl" "$results/$s.versions.json"
	case $s in
	python)
		if /usr/bin/python3 -c 'import azure.identity, azure.keyvault.secrets, azure.keyvault.keys, azure.keyvault.certificates' 2>/dev/null; then
			runnable+=(python)
		else
			skip_or_fail python "the Debian package python3-azure is not installed (apt-get install -y python3-azure)"
		fi
		;;
	js)
		if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
			skip_or_fail js "node and npm are not installed (apt-get install -y nodejs npm)"
		elif [ ! -d "$here/js/node_modules/@azure/keyvault-secrets" ] && ! (cd "$here/js" && npm ci --no-audit --no-fund); then
			skip_or_fail js "npm ci in test/conformance/js failed"
		else
			runnable+=(js)
		fi
		;;
	az)
		if command -v az >/dev/null; then
			runnable+=(az)
		else
			skip_or_fail az "the Debian package azure-cli is not installed (apt-get install -y azure-cli)"
		fi
		;;
	*)
		echo "unknown suite $s: use python, js or az" >&2
		exit 2
		;;
	esac
done
if [ "${CI:-}" = "true" ] && [ ${#runnable[@]} -ne ${#suites[@]} ]; then
	status=1
fi

if [ ${#runnable[@]} -gt 0 ]; then
	work=$(mktemp -d /tmp/kv-conformance.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	if [ -n "${KV_CONFORMANCE_BINARY:-}" ]; then
		cp "$KV_CONFORMANCE_BINARY" "$work/keyvault"
	else
		log "building keyvault into $work"
		(cd "$repo" && go build -o "$work/keyvault" ./cmd/keyvault)
	fi
	KV_RESULTS_DIR=$results unshare -n -m --propagation private bash "$here/run.sh" --inside "$work" "${runnable[@]}" || status=1
	if [ $status -ne 0 ]; then
		log "server log (last 40 lines):"
		tail -n 40 "$work/server.log" || true
	fi
fi

log "writing docs/compatibility.md"
/usr/bin/env python3 "$here/report.py" "$results" >"$repo/docs/compatibility.md"
/usr/bin/env python3 "$here/report.py" --summary "$results"
exit $status

#!/usr/bin/env bash
# Conformance suite for the Azure CLI (Debian's azure-cli package).
#
# Registers a custom cloud whose endpoints are the KeyVault server, signs in
# with a service principal against the server's ADFS-style token endpoints
# and drives the data plane with `az rest` and the management plane with
# `az keyvault`. Writes one JSON line per operation to
# $KV_RESULTS_DIR/az.jsonl.
#
# Run only through test/conformance/run.sh, which starts the server inside a
# loopback-only network namespace and sets KV_DATA_DIR, KV_PORT,
# KV_RESULTS_DIR and REQUESTS_CA_BUNDLE (the only CA setting that MSAL's
# requests session honours). Never run `az --help` here: help output
# triggers an update check that reaches out to the internet.
set -uo pipefail

# Refuse to run on the open machine: az sends telemetry and update checks
# to the internet unless everything around it is right.
links=$(ip -o link show)
if grep -qv ': lo:' <<<"$links"; then
	echo "az_conformance.sh: a network interface other than lo exists; run it through test/conformance/run.sh" >&2
	exit 1
fi

port=$KV_PORT
creds=$KV_DATA_DIR/credentials.json
out=$KV_RESULTS_DIR/az.jsonl
: >"$out"

field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$creds" "$1"; }
tenant=$(field tenantId)
client_id=$(field clientId)
client_secret=$(field clientSecret)
subscription=$(field subscriptionId)
vault_resource=$(field resource)
vault_url="https://default.vault.localhost:$port"
data_api="api-version=7.4"
new_vault=az-vault
group=az-conformance

# A throwaway configuration directory: az keeps its login, MSAL token cache
# and the cached openid-configuration document there.
config_dir=$(mktemp -d /tmp/kv-conformance-az.XXXXXX)
trap 'rm -rf "$config_dir"' EXIT
export AZURE_CONFIG_DIR=$config_dir
export AZURE_EXTENSION_DIR=$config_dir/extensions
export AZURE_CORE_COLLECT_TELEMETRY=false
export AZURE_CORE_ONLY_SHOW_ERRORS=true
export AZURE_CORE_NO_COLOR=true
export AZURE_CORE_SURVEY_MESSAGE=false
export AZURE_CORE_DISABLE_CONFIRM_PROMPT=true

# The versions come from dpkg: `az version` may look for newer releases.
/usr/bin/python3 -c '
import json, subprocess, sys
versions = {}
for pkg in ("azure-cli", "python3-azure", "python3-msal"):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
    versions[pkg + " (deb)"] = r.stdout if r.returncode == 0 else "not installed"
json.dump(versions, open(sys.argv[1], "w"), indent=2)
' "$KV_RESULTS_DIR/az.versions.json"

passed=0
failed=0
skipped=0

# record AREA OPERATION RESULT DETAIL appends one result line.
record() {
	/usr/bin/python3 -c 'import json,sys; print(json.dumps({"client": "az", "area": sys.argv[1], "operation": sys.argv[2], "result": sys.argv[3], "detail": " ".join(sys.argv[4].split())[:600]}))' \
		"$1" "$2" "$3" "$4" >>"$out"
	case $3 in
	pass) passed=$((passed + 1)) ;;
	fail) failed=$((failed + 1)) ;;
	skip) skipped=$((skipped + 1)) ;;
	esac
	printf '%-4s %s: %s%s\n' "$(echo "$3" | tr a-z A-Z)" "$1" "$2" "${4:+ - $4}"
}

# run AREA OPERATION CHECK [SKIP_PATTERN SKIP_REASON] -- COMMAND... runs
# COMMAND and records the operation as passed if COMMAND exits 0 and CHECK is
# true. CHECK is a python3 expression over the standard output, as the text
# `out` and, when it parses, as the JSON value `j`. If COMMAND fails and its
# standard error matches the extended regular expression SKIP_PATTERN, the
# operation is recorded as skipped, with SKIP_REASON and the matched text.
run() {
	local area=$1 operation=$2 check=$3 skip_pattern="" skip_reason=""
	shift 3
	if [ "$1" != -- ]; then
		skip_pattern=$1 skip_reason=$2
		shift 2
	fi
	shift
	local stdout stderr rc
	stderr=$(mktemp)
	stdout=$("$@" 2>"$stderr")
	rc=$?
	if [ $rc -ne 0 ]; then
		if [ -n "$skip_pattern" ] && grep -qE "$skip_pattern" "$stderr"; then
			record "$area" "$operation" skip "$skip_reason: $(grep -oE "$skip_pattern" "$stderr" | head -1)"
		else
			record "$area" "$operation" fail "exit status $rc: $(tail -c 500 "$stderr")"
		fi
		rm -f "$stderr"
		return 1
	fi
	rm -f "$stderr"
	local verdict
	verdict=$(CHECK=$check /usr/bin/python3 -c '
import json, os, sys
out = sys.stdin.read()
try:
    j = json.loads(out)
except ValueError:
    j = None
try:
    ok = eval(os.environ["CHECK"], {"json": json, "out": out, "j": j, "env": os.environ})
except Exception as e:
    print("check raised %s: %s; output: %s" % (type(e).__name__, e, out[:300]))
    sys.exit(0)
print("ok" if ok else "check failed: %s; output: %s" % (os.environ["CHECK"], out[:300]))
' <<<"$stdout")
	if [ "$verdict" = ok ]; then
		record "$area" "$operation" pass ""
		LAST_OUTPUT=$stdout
		return 0
	fi
	record "$area" "$operation" fail "$verdict"
	return 1
}

export TENANT=$tenant SUBSCRIPTION=$subscription VAULT_RESOURCE=$vault_resource PORT=$port

# ---------------------------------------------------------------- sign-in

# The authority must end in /adfs: for any other authority az 2.45 lets
# MSAL run instance discovery against login.microsoftonline.com. All
# directory endpoints are given, or `cloud register` fetches the missing ones
# from {resource-manager}/metadata/endpoints. The graph endpoints name hosts
# that nothing serves: `keyvault create` refuses to run without a Microsoft
# Graph resource id, but with --no-self-perms it never calls the graph. That
# id has no command-line flag in 2.45, so the cloud comes from a JSON file,
# which then has to hold every endpoint.
printf '%s\n' \
	'{"endpoints": {' \
	"  \"resourceManager\": \"https://localhost:$port/\"," \
	"  \"activeDirectory\": \"https://localhost:$port/adfs\"," \
	'  "activeDirectoryResourceId": "https://management.localhost/",' \
	'  "management": "https://management.localhost/",' \
	'  "activeDirectoryGraphResourceId": "https://graph.localhost/",' \
	'  "microsoftGraphResourceId": "https://graph.localhost/"},' \
	" \"suffixes\": {\"keyvaultDns\": \".vault.localhost:$port\"}}" >"$config_dir/cloud.json"
# Without the custom cloud every later command would use Azure's public
# endpoints, so the suite stops if the cloud cannot be set up.
run cloud "cloud register (ADFS authority)" "True" -- \
	az cloud register -n KeyVaultLocal --cloud-config "@$config_dir/cloud.json" || exit 1
run cloud "cloud set" "True" -- az cloud set -n KeyVaultLocal || exit 1
run cloud "cloud show" \
	"j['endpoints']['activeDirectory'] == 'https://localhost:%s/adfs' % env['PORT'] and j['suffixes']['keyvaultDns'] == '.vault.localhost:%s' % env['PORT']" -- \
	az cloud show --output json || exit 1

run identity "login --service-principal" \
	"[s['id'] for s in j] == [env['SUBSCRIPTION']] and j[0]['user']['type'] == 'servicePrincipal'" -- \
	az login --service-principal -u "$client_id" -p "$client_secret" --tenant "$tenant" --output json

run identity "account show" "j['id'] == env['SUBSCRIPTION'] and j['tenantId'] == env['TENANT']" -- \
	az account show --output json

jwt_claims='(lambda t: json.loads(__import__("base64").urlsafe_b64decode(t.split(".")[1] + "==")))(j["accessToken"])'
run identity "get-access-token (management)" "$jwt_claims['aud'] == 'https://management.localhost'" -- \
	az account get-access-token --output json
run identity "get-access-token --resource (vault)" \
	"$jwt_claims['aud'] == env['VAULT_RESOURCE'] and $jwt_claims['tid'] == env['TENANT']" -- \
	az account get-access-token --resource "$vault_resource" --output json

# ---------------------------------------------------------------- data plane (az rest)

rest() { az rest --resource "$vault_resource" --output json "$@"; }

run secrets "rest: set" "j['value'] == 'from-az' and j['id'].startswith('$vault_url/secrets/az-secret/')" -- \
	rest --method put --url "$vault_url/secrets/az-secret?$data_api" --body '{"value":"from-az","contentType":"text/plain"}'
run secrets "rest: get latest" "j['value'] == 'from-az' and j['contentType'] == 'text/plain'" -- \
	rest --method get --url "$vault_url/secrets/az-secret/?$data_api"
run secrets "rest: list" "any(s['id'] == '$vault_url/secrets/az-secret' for s in j['value'])" -- \
	rest --method get --url "$vault_url/secrets?$data_api"
run secrets "rest: delete" "j['recoveryId'] == '$vault_url/deletedsecrets/az-secret'" -- \
	rest --method delete --url "$vault_url/secrets/az-secret?$data_api"
run secrets "rest: get deleted" "j['recoveryId'] == '$vault_url/deletedsecrets/az-secret' and 'value' not in j" -- \
	rest --method get --url "$vault_url/deletedsecrets/az-secret?$data_api"
run secrets "rest: recover" "j['id'].startswith('$vault_url/secrets/az-secret/')" -- \
	rest --method post --url "$vault_url/deletedsecrets/az-secret/recover?$data_api"

run keys "rest: create RSA" "j['key']['kty'] == 'RSA' and len(j['key']['n']) > 300" -- \
	rest --method post --url "$vault_url/keys/az-key/create?$data_api" --body '{"kty":"RSA","key_size":2048}'
key_json=${LAST_OUTPUT:-{\}}
digest=$(printf 'signed by az' | openssl dgst -sha256 -binary | /usr/bin/python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).decode().rstrip("="))')
if run keys "rest: sign RS256" "len(j['value']) > 300" -- \
	rest --method post --url "$vault_url/keys/az-key/sign?$data_api" --body "{\"alg\":\"RS256\",\"value\":\"$digest\"}"; then
	signature=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["value"])' "$LAST_OUTPUT")
	run keys "rest: verify RS256" "j['value'] is True" -- \
		rest --method post --url "$vault_url/keys/az-key/verify?$data_api" --body "{\"alg\":\"RS256\",\"digest\":\"$digest\",\"value\":\"$signature\"}"
	# An independent check of the server's signature: openssl verifies it
	# with the public key from the key's JWK.
	verdict=$(KEY_JSON=$key_json SIG=$signature /usr/bin/python3 -c '
import base64, json, os, subprocess, tempfile
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
jwk = json.loads(os.environ["KEY_JSON"])["key"]
b = lambda s: int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")
pem = rsa.RSAPublicNumbers(b(jwk["e"]), b(jwk["n"])).public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
sig = base64.urlsafe_b64decode(os.environ["SIG"] + "=" * (-len(os.environ["SIG"]) % 4))
with tempfile.NamedTemporaryFile() as k, tempfile.NamedTemporaryFile() as s:
    k.write(pem); k.flush(); s.write(sig); s.flush()
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", k.name, "-signature", s.name], input=b"signed by az", capture_output=True)
    print("ok" if r.returncode == 0 else r.stdout.decode() + r.stderr.decode())
' 2>&1)
	if [ "$verdict" = ok ]; then
		record keys "openssl verifies the RS256 signature" pass ""
	else
		record keys "openssl verifies the RS256 signature" fail "$verdict"
	fi
fi

# ---------------------------------------------------------------- management plane (az keyvault)

# --no-self-perms: without it az looks up the signed-in principal in the
# graph endpoint, which this server does not serve.
run management "keyvault create" \
	"j['name'] == '$new_vault' and j['properties']['vaultUri'] == 'https://$new_vault.vault.localhost:$port/'" -- \
	az keyvault create --name "$new_vault" --resource-group "$group" --location local --no-self-perms --retention-days 7 --output json
run management "keyvault show" "j['name'] == '$new_vault' and j['properties']['softDeleteRetentionInDays'] == 7" -- \
	az keyvault show --name "$new_vault" --output json
run management "keyvault list" "'$new_vault' in [v['name'] for v in j] and 'default' in [v['name'] for v in j]" -- \
	az keyvault list --output json

reader=$(az rest --method post --url "https://localhost:$port/keyvault/principals" --body '{"displayName":"az-reader"}' --output json 2>/dev/null)
reader_object=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["objectId"])' "$reader" 2>/dev/null || echo missing)
export READER_OBJECT=$reader_object
run management "keyvault set-policy" \
	"any(p['objectId'] == env['READER_OBJECT'] and sorted(p['permissions']['secrets']) == ['get', 'list'] for p in j['properties']['accessPolicies'])" -- \
	az keyvault set-policy --name "$new_vault" --object-id "$reader_object" --secret-permissions get list --output json
run management "rest: data plane on the new vault" "j['value'] == 'in the new vault'" -- \
	rest --method put --url "https://$new_vault.vault.localhost:$port/secrets/s1?$data_api" --body '{"value":"in the new vault"}'

# ---------------------------------------------------------------- az keyvault data-plane commands

# Debian's azure-cli 2.45 lacks the track-1 azure-keyvault package that the
# secret, key and certificate command groups import, so they fail before
# sending a request. They are recorded as skipped while that is the failure,
# and are judged normally once a package that has the module is installed.
missing="No module named 'azure[.]keyvault[^']*'"
why="Debian's azure-cli 2.45 cannot import the track-1 azure-keyvault SDK"
run "az keyvault data plane" "keyvault secret set" "j['value'] == 'v'" "$missing" "$why" -- \
	az keyvault secret set --vault-name default --name az-cli-secret --value v --output json
run "az keyvault data plane" "keyvault secret show" "j['value'] == 'v'" "$missing" "$why" -- \
	az keyvault secret show --vault-name default --name az-cli-secret --output json
run "az keyvault data plane" "keyvault key create" "j['key']['kty'] == 'RSA'" "$missing" "$why" -- \
	az keyvault key create --vault-name default --name az-cli-key --output json
run "az keyvault data plane" "keyvault certificate list" "isinstance(j, list)" "$missing" "$why" -- \
	az keyvault certificate list --vault-name default --output json

echo "az: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

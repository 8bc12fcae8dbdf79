#!/usr/bin/env bash
# Installs SoftHSM2, the PKCS#11 token that the --seal pkcs11 and -HSM key
# tests run against. Those tests fail on CI (CI=true) when it is missing.
# Run it from .ci/run before go test: bash .ci/softhsm.sh
set -euo pipefail

if [ -f /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null; then
	echo "softhsm2 $(softhsm2-util --version) already installed"
	exit 0
fi
apt-get update -qq
apt-get install -y -qq softhsm2
softhsm2-util --version

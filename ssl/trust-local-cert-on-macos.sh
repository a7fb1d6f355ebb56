#!/usr/bin/env bash
# Adds ssl/localhost.crt to the macOS login keychain as trusted for SSL, so
# Safari and Chrome open https://localhost:5000 without a warning.
# Undo it in Keychain Access (search "localhost", delete the certificate).
set -euo pipefail
cd "$(dirname "$0")"
[ -f localhost.crt ] || ./generate-local-cert.sh
security add-trusted-cert -r trustRoot -p ssl -k "$HOME/Library/Keychains/login.keychain-db" localhost.crt
echo "Trusted ssl/localhost.crt in your login keychain."

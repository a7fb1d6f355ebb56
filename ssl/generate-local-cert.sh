#!/usr/bin/env bash
# Creates ssl/localhost.crt and ssl/localhost.key: a self-signed certificate
# for https://localhost and https://127.0.0.1, valid for 365 days.
#
# `openssl req -x509` ignores default_days in the config file and would make
# the certificate last 30 days, so -days is passed here.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v openssl >/dev/null; then
  echo "openssl is not installed: install it (apt-get install openssl, brew install openssl) and run this again." >&2
  exit 1
fi

openssl req -x509 -newkey rsa:2048 -nodes -sha256 \
  -days 365 \
  -config openssl.cnf \
  -keyout localhost.key \
  -out localhost.crt 2>/dev/null
chmod 600 localhost.key

echo "Created ssl/localhost.crt and ssl/localhost.key (valid 365 days):"
openssl x509 -in localhost.crt -noout -subject -enddate -ext subjectAltName

#!/usr/bin/env bash
# Creates the app's client certificate for Entra ID: a self-signed RSA
# certificate and its key, to use instead of a client secret.
#
#   ssl/generate-client-cert.sh [--days N] [--name CN] [--out DIR] [--encrypt] [--pfx]
#
# Writes, in DIR (default ssl/):
#   client-cert.pem  the certificate and its private key: CLIENT_CERTIFICATE_PATH
#   client-cert.crt  the certificate alone: upload it to the app registration
#   client-cert.pfx  with --pfx, both as PKCS#12 (as Key Vault and Windows use)
# --encrypt encrypts the key in client-cert.pem (PKCS#8, AES-256) and the
# .pfx with the password in $CLIENT_CERTIFICATE_PASSWORD, which is never put
# on a command line where other users could see it.
#
# The certificate is valid for --days days (default 365): `openssl req -x509`
# would otherwise make it last 30 days, whatever a config file says. Entra ID
# refuses a certificate after it expires, so note the date it prints.
set -euo pipefail

days=365
name="ms-identity-go-webapp"
out="$(dirname "$0")"
encrypt=false
pfx=false
while [ $# -gt 0 ]; do
  case "$1" in
    -days|--days) days="${2:?--days needs a number}"; shift 2 ;;
    -name|--name) name="${2:?--name needs a common name}"; shift 2 ;;
    -out|--out) out="${2:?--out needs a directory}"; shift 2 ;;
    -encrypt|--encrypt) encrypt=true; shift ;;
    -pfx|--pfx) pfx=true; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$days" in
  ''|*[!0-9]*|0) echo "--days must be a whole number of days, not '$days'" >&2; exit 2 ;;
esac
if ! command -v openssl >/dev/null; then
  echo "openssl is not installed: install it (apt-get install openssl, brew install openssl) and run this again." >&2
  exit 1
fi
if $encrypt && [ -z "${CLIENT_CERTIFICATE_PASSWORD:-}" ]; then
  echo "--encrypt needs the password in CLIENT_CERTIFICATE_PASSWORD, e.g. read -rs CLIENT_CERTIFICATE_PASSWORD; export CLIENT_CERTIFICATE_PASSWORD" >&2
  exit 2
fi
mkdir -p "$out"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -subj "/CN=$name" \
  -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=clientAuth" \
  -keyout "$work/key.pem" -out "$work/cert.crt" 2>/dev/null

if $encrypt; then
  openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$work/key.pem" -out "$work/key.enc.pem" \
    -passout env:CLIENT_CERTIFICATE_PASSWORD
  mv "$work/key.enc.pem" "$work/key.pem"
fi
cat "$work/cert.crt" "$work/key.pem" > "$out/client-cert.pem"
cp "$work/cert.crt" "$out/client-cert.crt"
chmod 600 "$out/client-cert.pem"
chmod 644 "$out/client-cert.crt"
if $pfx; then
  # Without a password, the .pfx has an empty one, as Key Vault exports it.
  pass=(-passout pass:)
  [ -n "${CLIENT_CERTIFICATE_PASSWORD:-}" ] && pass=(-passout env:CLIENT_CERTIFICATE_PASSWORD)
  $encrypt && pass+=(-passin env:CLIENT_CERTIFICATE_PASSWORD)
  openssl pkcs12 -export -inkey "$work/key.pem" -in "$work/cert.crt" "${pass[@]}" -out "$out/client-cert.pfx"
  chmod 600 "$out/client-cert.pfx"
fi

echo "Created $out/client-cert.pem (certificate and key) and $out/client-cert.crt (to upload):"
openssl x509 -in "$out/client-cert.crt" -noout -subject -enddate
openssl x509 -in "$out/client-cert.crt" -noout -fingerprint -sha1 | sed 's/://g; s/^.*=/Thumbprint (SHA-1, as the admin center shows it): /'
$pfx && echo "Created $out/client-cert.pfx"
echo "Upload $out/client-cert.crt under App registrations → your app → Certificates & secrets → Certificates,"
echo "then set CLIENT_CERTIFICATE_PATH=$out/client-cert.pem (and unset CLIENT_SECRET)."

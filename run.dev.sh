#!/usr/bin/env bash
# Runs the app locally over HTTPS.
#
#   ./run.dev.sh           your Entra ID tenant, with the settings in .env
#   ./run.dev.sh --demo    the local Entra ID emulator: no tenant, no .env needed
#
# Extra arguments go to the app (go run . -help lists them).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v go >/dev/null; then
  echo "Go is not installed: get it from https://go.dev/dl/ (1.25 or newer)." >&2
  exit 1
fi

if [ ! -f ssl/localhost.crt ] || [ ! -f ssl/localhost.key ]; then
  echo "No local HTTPS certificate yet: creating one."
  ./ssl/generate-local-cert.sh
fi

args=()
for arg in "$@"; do
  case "$arg" in
    --demo) args+=(-demo) ;;
    *) args+=("$arg") ;;
  esac
done

if [[ " ${args[*]-} " != *" -demo "* ]] && [ ! -f .env ]; then
  echo "No .env file: copy .env.sample to .env and fill it in, or run ./run.dev.sh --demo." >&2
fi

exec go run . "${args[@]+"${args[@]}"}"

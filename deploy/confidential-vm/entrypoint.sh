#!/bin/sh
# The measured image's only entrypoint. It starts the service with an empty environment plus the
# measured enclave.env and the host configuration file ($1, KEY=VALUE lines, bound through
# HOST_DATA: docs/deploy.md). The host file is read line by line, never sourced (it is untrusted
# input), and may set no variable that could add code (NODE_OPTIONS) or secrets (ENCRYPTION_KEY).
set -euf # -f: no globbing of the checked values below
host_config=${1:-/run/enclave/host-config.env}
exports=""
load() {
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*}
    value=${line#*=}
    case "$key" in
      ENCRYPTION_KEY|ENCRYPTION_KEYS|NODE_OPTIONS|VENUE_BASE_URLS|DEMO|ENCLAVE_MODE|AMD_SEV_SNP)
        [ "$2" = measured ] || { echo "enclave-entrypoint: $key may not come from the host configuration" >&2; exit 2; } ;;
      *[!A-Z0-9_]*|'') echo "enclave-entrypoint: bad line in $1" >&2; exit 2 ;;
    esac
    case "$value" in *[!A-Za-z0-9_./:@%+,=?\&-]*) echo "enclave-entrypoint: $key has characters outside [A-Za-z0-9_./:@%+,=?&-]" >&2; exit 2 ;; esac
    exports="$exports $key=$value"
  done < "$1"
}
load /opt/enclave/enclave.env measured
load "$host_config" host
cd /opt/enclave/app
# shellcheck disable=SC2086 # the values were checked above: no spaces, quotes or shell syntax
exec /usr/bin/env -i PATH=/opt/enclave/bin $exports /opt/enclave/bin/node --max-semi-space-size=32 dist/main.js

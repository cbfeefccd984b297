#!/usr/bin/env bash
# Sends one signed Partner API request with curl + openssl, using the sandbox credentials that
# `npm start` wrote. Usage:
#   examples/signed-request.sh GET  '/v1/partner/users?page=1&limit=20'
#   examples/signed-request.sh POST /v1/partner/users '{"externalUserId":"user_42"}'
# Environment: ALMONER_URL (default http://localhost:4000), CREDS (default ./data/sandbox-credentials.json)
set -euo pipefail
METHOD="${1:?method}"
PATH_WITH_QUERY="${2:?path, with its query string if any}"
BODY="${3:-}"
ALMONER_URL="${ALMONER_URL:-http://localhost:4000}"
CREDS="${CREDS:-./data/sandbox-credentials.json}"

KEY=$(node -p "require(require('path').resolve(process.argv[1])).secretKey" "$CREDS")
SECRET=$(node -p "require(require('path').resolve(process.argv[1])).hmacSecret" "$CREDS")
TS=$(date +%s)
BODY_HASH=$(printf '%s' "$BODY" | openssl dgst -sha256 -hex | sed 's/^.* //')
SIGNATURE=$(printf '%s' "$TS$METHOD$PATH_WITH_QUERY$BODY_HASH" | openssl dgst -sha256 -hmac "$SECRET" -hex | sed 's/^.* //')

args=(-sS -X "$METHOD" "$ALMONER_URL$PATH_WITH_QUERY"
  -H "X-Partner-Key: $KEY" -H "X-Timestamp: $TS" -H "X-Signature: $SIGNATURE"
  -w '\nHTTP %{http_code}\n')
if [ -n "$BODY" ]; then
  # ALMONER_TAMPER=1 changes one byte after signing, to see the signature refuse it.
  [ "${ALMONER_TAMPER:-0}" = 1 ] && BODY="${BODY/user/usex}"
  args+=(-H 'Content-Type: application/json' --data-raw "$BODY")
fi
curl "${args[@]}"

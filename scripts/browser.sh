#!/usr/bin/env bash
# Headless browser for the UI tests: Debian's Chromium, driven by Playwright for Python.
#
# Usage: scripts/browser.sh {install|check|test|screenshots}
#   install      apt-get install chromium (no recommends) when /usr/bin/chromium is missing;
#                needs root or sudo. Playwright's own browser download is never used
#                (`playwright install` is not run): the tests launch /usr/bin/chromium.
#   check        versions, and a headless launch that renders a small SVG
#   test         the browser tests (tests/browser) against the local Kafka; starts Kafka when
#                it is not running and stops it again afterwards (a running one is left alone)
#   screenshots  where the tests leave their screenshots
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHROMIUM=${ENGAGEMENT_CHROMIUM:-/usr/bin/chromium}
PY=.venv/bin/python
KAFKA="bash deploy/kafka/kafka.sh"

log() { printf '[browser] %s\n' "$*"; }
die() { printf '[browser] %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root or sudo to run: $*"
  fi
}

have_playwright() {
  [[ -x $PY ]] && "$PY" -c 'import playwright.async_api' 2>/dev/null
}

install() {
  if [[ -x $CHROMIUM ]]; then
    log "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  else
    command -v apt-get >/dev/null || die "apt-get not found: install Chromium by hand at $CHROMIUM"
    log "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y --no-install-recommends chromium; then
      log "install failed; refreshing the package lists and retrying"
      as_root apt-get update
      as_root apt-get install -y --no-install-recommends chromium
    fi
    log "installed: $("$CHROMIUM" --version)"
  fi
  if have_playwright; then
    log "playwright for python: $("$PY" -c 'from importlib.metadata import version; print(version("playwright"))')"
  else
    log "playwright for python is missing from .venv: run 'make install' (a dev dependency)"
  fi
}

check() {
  [[ -x $CHROMIUM ]] || die "chromium not found at $CHROMIUM: run 'bash scripts/browser.sh install'"
  have_playwright || die "playwright for python missing: run 'make install'"
  "$CHROMIUM" --version
  ENGAGEMENT_CHROMIUM=$CHROMIUM "$PY" - <<'PY'
import asyncio
import os

from playwright.async_api import async_playwright

from tests.browser.conftest import CHROMIUM_ARGS


async def main() -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=os.environ["ENGAGEMENT_CHROMIUM"], args=CHROMIUM_ARGS
        )
        page = await browser.new_page()
        await page.set_content("<svg><circle data-value='83.2' r='4'/></svg>")
        value = await page.get_attribute("circle", "data-value")
        print(f"headless chromium {browser.version}: rendered an SVG (data-value={value})")
        await browser.close()


asyncio.run(main())
PY
}

run_tests() {
  [[ -x $PY ]] || die ".venv missing: run 'make install'"
  local started=0
  if ! $KAFKA status >/dev/null 2>&1; then
    $KAFKA start
    started=1
  fi
  local port=${KAFKA_PORT:-9092} status=0
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port ENGAGEMENT_KAFKA_BOOTSTRAP=127.0.0.1:$port \
    .venv/bin/pytest tests/browser "$@" || status=$?
  if [[ $started == 1 ]]; then $KAFKA stop; fi
  screenshots
  return "$status"
}

screenshots() {
  ls -1 artifacts/ui-*.png 2>/dev/null || log "no screenshots yet (artifacts/ui-*.png)"
}

cmd=${1:-}
shift || true
case "$cmd" in
  install) install ;;
  check) check ;;
  test) run_tests "$@" ;;
  screenshots) screenshots ;;
  *) die "usage: scripts/browser.sh {install|check|test|screenshots}" ;;
esac

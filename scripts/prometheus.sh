#!/usr/bin/env bash
# Prometheus tooling for this repository (Debian bookworm's `prometheus` 2.42 ships `promtool`).
#
# Usage: scripts/prometheus.sh {install|check|version}
#   install  apt-get install prometheus (no recommends) when promtool is missing; needs root or
#            sudo. On a machine running systemd, Debian's package also starts a system
#            Prometheus on :9090; the tests never use it (they start their own on a free port).
#   check    promtool check config + check rules + test rules (the alert unit tests)
#   version  the versions of prometheus and promtool
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PROM_DIR=deploy/prometheus

log() { printf '[prometheus] %s\n' "$*"; }
die() { printf '[prometheus] %s\n' "$*" >&2; exit 1; }

need_promtool() {
  command -v promtool >/dev/null || die "promtool not found: run 'bash scripts/prometheus.sh install'"
}

as_root() {
  if [[ $(id -u) == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root or sudo to run: $*"
  fi
}

install() {
  if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
    log "already installed: $(prometheus --version 2>&1 | sed -n 1p)"
    return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found: install Prometheus 2.42+ by hand"
  log "installing Debian's prometheus (with promtool)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y --no-install-recommends prometheus; then
    log "install failed; refreshing the package lists and retrying"
    as_root apt-get update
    as_root apt-get install -y --no-install-recommends prometheus
  fi
  log "installed: $(prometheus --version 2>&1 | sed -n 1p)"
}

check() {
  need_promtool
  promtool check config "$PROM_DIR/prometheus.yml"
  promtool check rules "$PROM_DIR"/rules/*.yml
  promtool test rules "$PROM_DIR"/tests/*.yml
}

version() {
  need_promtool
  prometheus --version 2>&1 | sed -n 1p
  promtool --version 2>&1 | sed -n 1p
}

case "${1:-}" in
  install) install ;;
  check) check ;;
  version) version ;;
  *) die "usage: $0 {install|check|version}" ;;
esac

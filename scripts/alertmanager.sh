#!/usr/bin/env bash
# Alertmanager tooling for this repository (Debian bookworm's `prometheus-alertmanager` 0.25
# ships the `prometheus-alertmanager` daemon and `amtool`).
#
# Usage: scripts/alertmanager.sh {install|check|version}
#   install  apt-get install prometheus-alertmanager (no recommends) when it is missing; needs
#            root or sudo. On a machine running systemd, Debian's package also starts a system
#            Alertmanager on :9093; the tests never use it (they start their own on a free port).
#   check    amtool check-config + the routing tree answers for each kind of alert
#   version  the versions of alertmanager and amtool
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONFIG=deploy/alertmanager/alertmanager.yml

log() { printf '[alertmanager] %s\n' "$*"; }
die() { printf '[alertmanager] %s\n' "$*" >&2; exit 1; }

need_amtool() {
  command -v amtool >/dev/null || die "amtool not found: run 'bash scripts/alertmanager.sh install'"
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

binary() {
  # Debian names the daemon prometheus-alertmanager; upstream tarballs call it alertmanager.
  command -v prometheus-alertmanager || command -v alertmanager || return 1
}

install() {
  if command -v amtool >/dev/null && binary >/dev/null; then
    log "already installed: $("$(binary)" --version 2>&1 | sed -n 1p)"
    return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found: install Alertmanager 0.25+ by hand"
  log "installing Debian's prometheus-alertmanager (with amtool)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y --no-install-recommends prometheus-alertmanager; then
    log "install failed; refreshing the package lists and retrying"
    as_root apt-get update
    as_root apt-get install -y --no-install-recommends prometheus-alertmanager
  fi
  log "installed: $("$(binary)" --version 2>&1 | sed -n 1p)"
}

# expect <receiver> <label=value>...: the routing tree sends such an alert to <receiver>.
expect() {
  local want=$1 got
  shift
  got=$(amtool config routes test --config.file "$CONFIG" "$@" 2>/dev/null)
  [[ "$got" == "$want" ]] || die "an alert with $* goes to '$got', expected '$want'"
  log "routes $* -> $got"
}

check() {
  need_amtool
  amtool check-config "$CONFIG"
  expect service-pager alertname=EngagementScorerDown severity=page category=service
  expect service-tickets alertname=EngagementConsumerLagGrowing severity=ticket category=service
  expect adoption-owners alertname=EngagementScoreDropped severity=ticket category=adoption \
    org_id=org-1 service_severity=critical
}

version() {
  need_amtool
  "$(binary)" --version 2>&1 | sed -n 1p
  amtool --version 2>&1 | sed -n 1p
}

case "${1:-}" in
  install) install ;;
  check) check ;;
  version) version ;;
  *) die "usage: $0 {install|check|version}" ;;
esac

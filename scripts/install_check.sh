#!/usr/bin/env bash
# make install-check: the project installs as a user would install it, from a built wheel
# into a fresh environment (as `uv tool install .` or `pip install .` do), and its three
# commands work: --version is the project's, --help lists the settings. The wheel carries no
# dev-only module (the contract generators).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV=${UV:-$(command -v uv || echo .tools/uv-venv/bin/uv)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$UV" build --wheel --out-dir "$work/dist" --quiet
wheel=$(ls "$work"/dist/*.whl)
echo "install-check: built $(basename "$wheel")"
if python3 -c "import sys, zipfile; names = zipfile.ZipFile(sys.argv[1]).namelist(); sys.exit(not any(n.endswith((\"events/contract.py\", \"events/compat.py\")) for n in names))" "$wheel"; then
  echo "install-check: the wheel ships a dev-only module" >&2
  exit 1
fi
"$UV" venv --quiet --python python3.11 "$work/venv"
VIRTUAL_ENV="$work/venv" "$UV" pip install --quiet "$wheel"
version=$("$work/venv/bin/python" -c 'from importlib.metadata import version; print(version("engagement-score"))')
for command in engagement-scorer engagement-batch engagement-simulator; do
  out=$("$work/venv/bin/$command" --version)
  [[ "$out" == "$command $version (engagement-score)" ]] || { echo "bad --version: $out" >&2; exit 1; }
  "$work/venv/bin/$command" --help | grep -q "ENGAGEMENT_KAFKA_BOOTSTRAP (default: 127.0.0.1:9092)" \
    || { echo "$command --help does not list the settings" >&2; exit 1; }
  echo "install-check: $out, --help lists the settings"
done
# the installed worker refuses Faust's port option and names the setting instead
if "$work/venv/bin/engagement-scorer" worker -p 7000 2>"$work/err"; then
  echo "install-check: engagement-scorer accepted -p" >&2; exit 1
fi
grep -q "set ENGAGEMENT_WEB_PORT instead" "$work/err"
echo "install-check: ok"

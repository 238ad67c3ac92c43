#!/usr/bin/env bash
# make test-unit-py313: the unit tests on Python 3.13 (the newest supported version), in a
# second environment (.venv-py313) synced from the same uv.lock.
#
# The interpreter: $PYTHON313, else a working python3.13 on PATH, else pyenv's 3.13 (the
# machine image ships one), else uv's managed download (needs the network to reach it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV=${UV:-$(command -v uv || echo .tools/uv-venv/bin/uv)}

works() { [[ -n "$1" ]] && "$1" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; }

find_python313() {
  local candidate
  for candidate in "${PYTHON313:-}" "$(command -v python3.13 || true)"; do
    if works "$candidate"; then echo "$candidate"; return 0; fi
  done
  local root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in "$root"/versions/3.13*/bin/python3.13; do
    if works "$candidate"; then echo "$candidate"; return 0; fi
  done
  if "$UV" python install 3.13 >/dev/null 2>&1; then
    candidate=$("$UV" python find 3.13)
    if works "$candidate"; then echo "$candidate"; return 0; fi
  fi
  return 1
}

if ! PY=$(find_python313); then
  echo "py313: no Python 3.13 interpreter found (PYTHON313, PATH, pyenv, uv download)" >&2
  exit 1
fi
echo "py313: $("$PY" --version) at $PY"
UV_PROJECT_ENVIRONMENT=.venv-py313 "$UV" sync --frozen --python "$PY" --quiet
.venv-py313/bin/pytest tests/unit -p no:cacheprovider -q "$@"

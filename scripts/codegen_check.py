"""make codegen-check: generate TypeScript and Python models from the bundled AsyncAPI
document with @asyncapi/modelina (tools/codegen) and check that the shared enums come out as
one named type each, used by the payload models (not an anonymous copy per field).

    python scripts/codegen_check.py [--keep DIR]

Needs Node.js and the packages of tools/codegen (`npm ci --prefix tools/codegen`, done by
make codegen-check). Exit 1 with the reasons when a check fails.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENUMS = {
    "Level": ["initiation", "informing", "engaging", "co_creating"],
    "Component": ["reach", "visit", "view", "interact", "contribute"],
    "AlertStatus": ["firing", "resolved"],
    "Severity": ["warning", "critical"],
}
# payload model -> (TypeScript field, enum it must be typed with)
USES = {
    "LevelChanged": [("toLevel", "Level"), ("fromLevel", "Level")],
    "ScoreUpdated": [("operatingLevel", "Level"), ("targetLevel", "Level")],
    # modelina prefixes names it reserves (Alert, status) with "reserved"
    "ReservedAlert": [
        ("reservedStatus", "AlertStatus"),
        ("severity", "Severity"),
        ("component", "Component"),
    ],
    "OrgProfile": [("targetLevel", "Level")],
}


def problems(out: Path) -> list[str]:
    found: list[str] = []
    for language, ext, enum_line in (
        ("typescript", "ts", "enum {name} {{"),
        ("python", "py", "class {name}(Enum)"),
    ):
        files = {p.stem: p.read_text() for p in (out / language).glob(f"*.{ext}")}
        for name, values in ENUMS.items():
            text = files.get(name)
            if text is None or enum_line.format(name=name) not in text:
                found.append(f"{language}: no named enum {name}")
                continue
            for value in values:
                if f'"{value}"' not in text:
                    found.append(f"{language}: {name} lacks {value}")
            holders = [n for n, t in files.items() if f'"{values[-1]}"' in t]
            if holders != [name]:
                found.append(f"{language}: values of {name} spelled out in {sorted(holders)}")
    ts = {p.stem: p.read_text() for p in (out / "typescript").glob("*.ts")}
    for model, fields in USES.items():
        text = ts.get(model, "")
        for field, enum in fields:
            if not re.search(rf"\b{field}\??: {enum}\b", text):
                found.append(f"typescript: {model}.{field} is not typed {enum}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="write the models here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        subprocess.run(["node", str(ROOT / "tools/codegen/generate.mjs"), str(out)], check=True)
        found = problems(out)
    if found:
        print("Generated models do not name the enums:", file=sys.stderr)
        for problem in found:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"Generated TypeScript and Python models name the enums {', '.join(ENUMS)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

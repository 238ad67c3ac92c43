"""Guard: Faust's JSON codec must stay on the standard library's ``json``.

``faust.utils.json`` switches to orjson whenever orjson is importable, and the tables' ``json``
value codec then raises on writes of packed account integers (about 241 bits; orjson is limited
to 64) and reads existing changelog values back as floats, silently corrupting recovery. So
orjson must never enter the worker's dependency tree (the fast decoder uses msgspec, which
keeps big integers exact).
"""

from __future__ import annotations

from faust.serializers import codecs
from faust.utils import json as faust_json

from engagement.domain.accounts import Account, pack


def test_faust_did_not_pick_up_orjson() -> None:
    assert faust_json.orjson is None, "orjson is importable: Faust's table codec now uses it"


def test_the_table_codec_keeps_packed_accounts_exact() -> None:
    packed = pack(
        Account(3, 2**36 - 1, 2**36 - 1, 2**36 - 2, 2**36 - 3, *[2**22 - 1 - i for i in range(6)])
    )
    assert packed.bit_length() > 200
    codec = codecs.get_codec("json")
    encoded = codec.dumps(packed)
    assert encoded == str(packed).encode()  # what existing changelogs hold
    decoded = codec.loads(encoded)
    assert type(decoded) is int
    assert decoded == packed

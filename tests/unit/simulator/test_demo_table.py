"""The ``make run`` score table (``python -m engagement_simulator.demo_table``), from canned API
answers."""

from __future__ import annotations

from typing import Any

import pytest

from engagement_simulator import demo_table

API = "http://127.0.0.1:6066"

ANSWERS: dict[str, Any] = {
    "/orgs": {"orgs": ["s42-org-01", "s42-org-02/x", "s42-org-03-with-a-long-name"]},
    "/orgs/s42-org-01/score": {
        "components": {"reach": {"value": 96.0}, "visit": {"value": 62.54}, "view": {}},
        "engagement_score": 55.5,
        "operating_level": "informing",
        "target_level": "engaging",
    },
    "/orgs/s42-org-01/alerts": {
        "firing": [
            {"alert": "score_drop"},
            {"alert": "component_below_threshold", "component": "reach"},
        ]
    },
    "/orgs/s42-org-02%2Fx/score": {"operating_level": "co_creating", "target_level": "engaging"},
    "/orgs/s42-org-02%2Fx/alerts": {"firing": []},
    "/benchmarks": {
        "groups": [
            {
                "group": {
                    "sector": "healthcare",
                    "size_band": "100-499",
                    "platform_type": "intranet",
                },
                "org_count": 6,
            }
        ]
    },
}


def canned(answers: dict[str, Any]) -> demo_table.Get:
    def get(path: str) -> Any:
        if path not in answers:
            raise OSError(f"404 {path}")
        return answers[path]

    return get


def test_table_of_organisations() -> None:
    lines = demo_table.render(canned(ANSWERS), API, "simulator running", "12:00:00")
    assert lines[:2] == ["Engagement scores at 12:00:00  (simulator running)", ""]
    header = lines[2].split()
    components = ["reach", "visit", "view", "interact", "contribute"]
    assert header == ["org", *components, "score", "level", "target", "alerts"]
    first, second, third = lines[3:6]
    assert first.split() == [
        "s42-org-01",
        "96.0",
        "62.5",
        "-",
        "-",
        "-",
        "55.5",
        "informing",
        "<",
        "engaging",
        "component_below_threshold:reach,",
        "score_drop",
    ]
    assert second.split()[6:] == ["-", "co_creating", ">", "engaging", "-"]
    assert third == "s42-org-03-wit (no score yet)"
    assert lines[6:] == [
        "",
        "levels on screen: 2 of 4 (co_creating, informing)",
        "benchmarks published: 1 (healthcare/100-499/intranet (6 orgs))",
        f"organisation pages: {API}/ui/",
    ]


def test_the_table_says_when_no_benchmark_is_published_yet() -> None:
    answers = {k: v for k, v in ANSWERS.items() if k != "/benchmarks"}
    lines = demo_table.render(canned({**answers, "/benchmarks": {"groups": []}}), API, "s", "t")
    assert "benchmarks published: none yet (a group needs at least k organisations)" in lines
    lines = demo_table.render(canned(answers), API, "s", "t")
    assert "benchmarks: scorer not answering" in lines


def test_columns_line_up() -> None:
    lines = demo_table.render(canned(ANSWERS), API, "s", "t")
    header, first = lines[2], lines[3]
    assert header.index("score") + len("score") == first.index("55.5") + len("55.5")


def test_level_mark() -> None:
    answers = {
        "/orgs": {"orgs": ["a"]},
        "/orgs/a/score": {"operating_level": "engaging", "target_level": "engaging"},
        "/orgs/a/alerts": {"firing": []},
    }
    row = demo_table.render(canned(answers), API, "s", "t")[3]
    assert "= engaging" in row


def test_no_organisations_yet() -> None:
    lines = demo_table.render(canned({"/orgs": {"orgs": []}}), API, "s", "t")
    assert lines[3:] == ["(no organisations yet)", f"organisation pages: {API}/ui/"]


def test_scorer_not_answering() -> None:
    lines = demo_table.render(canned({}), API, "s", "t")
    assert lines == ["Engagement scores at t  (s)", "", "scorer not answering yet: 404 /orgs"]


@pytest.mark.parametrize(("clear", "prefix"), [("1", "\033[H\033[2J"), ("0", "Engagement")])
def test_main_prints_one_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clear: str, prefix: str
) -> None:
    monkeypatch.setattr(demo_table, "http_get", lambda api: canned({"/orgs": {"orgs": []}}))
    demo_table.main([API, clear, "simulator finished"])
    out = capsys.readouterr().out
    assert out.startswith(prefix)
    assert "(simulator finished)" in out
    assert out.endswith(f"organisation pages: {API}/ui/\n")

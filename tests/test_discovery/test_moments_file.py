"""What discovery writes is a moments file the engine loads as the very specs it counted."""

from pathlib import Path

import pytest

from momentstream.discovery.mining import Candidate
from momentstream.discovery.moments_file import moments_yaml, write_moments
from momentstream.discovery.verify import candidate_spec, names_for
from momentstream.patterns.dsl import load_moments
from momentstream.patterns.errors import PatternError
from momentstream.patterns.spec import WindowSpec

H = 3_600_000


def _candidates() -> list[Candidate]:
    return [
        Candidate((("support_ticket", "topic", "order"), ("purchase", "channel", "web")), (4 * 24 * H,), 18 * H),
        Candidate((("purchase", "", None), ("page-view.v2", "order_number", 2)), (7 * 24 * H,)),
        Candidate((("login", "", None),) * 3, ()),  # a frequency rule: login x3 within 30d
    ]


def test_written_moments_load_back_as_the_same_specs(tmp_path: Path) -> None:
    candidates = _candidates()
    intervention = {"type": "outreach"}
    specs = [candidate_spec(c, n, intervention) for c, n in zip(candidates, names_for(candidates), strict=True)]
    window = WindowSpec(19 * H, 37 * H, specs[0].steps[1].name, cancel_if=intervention, used_if=intervention)
    specs[0] = specs[0].__class__(**{**{f: getattr(specs[0], f) for f in specs[0].__dataclass_fields__},
                                     "window": window, "description": "evidence: 3.4x, q=1e-9"})  # fmt: skip
    path = tmp_path / "discovered.yaml"
    write_moments(path, specs, "Discovered in a test\n\nsecond paragraph")
    loaded = load_moments(path)
    assert [m.spec.steps for m in loaded] == [s.steps for s in specs]
    assert [m.spec.within_ms for m in loaded] == [s.within_ms for s in specs]
    assert loaded[0].spec.window == window
    assert loaded[0].spec.description == "evidence: 3.4x, q=1e-9"
    assert path.read_text().startswith("# Discovered in a test\n#\n# second paragraph\n")
    assert [m.name for m in loaded] == [
        "d01_support_ticket_topic_order_purchase_channel_web_silence",
        "d02_purchase_page_view_v2_order_number_2",
        "d03_login_x3",
    ]


def test_a_file_the_engine_would_refuse_is_never_written() -> None:
    with pytest.raises(PatternError):
        moments_yaml([], "nothing")

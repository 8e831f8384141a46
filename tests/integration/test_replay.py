"""`make replay`: a short timeline through the real lodging, release and drain code on a simulated clock,
its figures and its picture; and the shipped DELTA G timeline still loads and cites a known source."""

from __future__ import annotations

import json
import re
import struct

from local.infra import ROOT
from tests.replay import Timeline, load, main, run

INCIDENTS = ROOT / "docs" / "incidents"


def _timeline(**overrides) -> Timeline:
    """10 minutes up, a 20-minute CID alert during which 2 a minute are lodged (every 10th urgent), the
    end of the alert, then 10 a minute released."""
    base = {
        "title": "a short outage",
        "source": "C4T-STATUS-2025-10",
        "system": "DELTA_G",
        "start": "2025-10-17T17:00:00+02:00",
        "end": "2025-10-17T18:00:00+02:00",
        "release": {"rate_per_minute": 10, "burst": 5},
        "changes": [
            {"at": "2025-10-17T17:10:00+02:00",
             "status": {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID"}},
            {"at": "2025-10-17T17:30:00+02:00", "status": {"status": "AVAILABLE", "source": "CID_ALERT"}},
        ],
        "lodgings": [
            {"start": "2025-10-17T17:00:00+02:00", "end": "2025-10-17T17:30:00+02:00", "per_minute": 2,
             "urgent_share": 0.1},
        ],
    }  # fmt: skip
    return Timeline.model_validate({**base, **overrides})


def test_a_short_outage_is_held_then_drained_at_the_rate_within_the_deadline():
    replay = run(_timeline())
    figures = replay.figures()
    assert figures["lodged"] == 60  # 30 minutes at 2 a minute
    assert figures["outage_minutes"] == 20
    assert figures["held_at_peak"] == 40  # the 40 lodged during the outage, none went straight through
    assert figures["fallback_at_peak"] == 4  # every 10th urgent: into the fallback, re-integrated after
    assert figures["most_reintegrated_in_a_minute"] <= 10 + 5  # rate + burst
    assert figures["drain_minutes"] == 4  # 40 at 10 a minute with a burst of 5 at the start
    assert figures["deadline"] == "2025-10-18T17:30:00+02:00"  # 24 h after the end of the alert
    assert figures["deadline_met"] is True
    assert (figures["still_waiting"], figures["sent_twice"]) == (0, 0)
    # the held ones reached customs in the order they were lodged (the fallback ones go first: decision 8)
    held = [lrn for lrn in replay.backlog_lrns if lrn not in replay.fallback_lrns]
    assert [lrn for lrn in replay.received if lrn in set(held)] == held


def test_a_paused_release_misses_the_deadline_and_says_so():
    paused = {"rate_per_minute": 10, "burst": 5, "paused": True}
    replay = run(_timeline(release=paused, end="2025-10-18T16:00:00+02:00"))
    figures = replay.figures()
    assert figures["deadline_met"] is False
    assert figures["drain_minutes"] is None
    assert replay.held[-1] + replay.emergency[-1] == 40
    assert figures["still_waiting"] == 40


def test_make_replay_writes_the_picture_and_prints_the_figures(tmp_path, capsys):
    incident = tmp_path / "short.json"
    incident.write_text(_timeline().model_dump_json())
    assert main([str(incident)]) == 0
    picture = tmp_path / "short.png"
    header = picture.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1100, 750)
    printed = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert printed["drain_minutes"] == "4"
    assert printed["deadline_met"] == "True"
    assert printed["picture"] == str(picture)


def test_the_shipped_timelines_load_and_cite_a_documented_source():
    sources = set(re.findall(r"^### (\S+)", (ROOT / "docs" / "sources.md").read_text(), re.M))
    shipped = sorted(INCIDENTS.glob("*.json"))
    assert shipped
    for path in shipped:
        timeline = load(path)
        assert timeline.source in sources, path.name
        assert json.loads(path.read_text())["notes"], f"{path.name}: say what is from the source and what is assumed"
        assert path.with_suffix(".png").exists(), f"{path.name}: run make replay INCIDENT={path.relative_to(ROOT)}"

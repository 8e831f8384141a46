"""The replay's picture (matplotlib, a dev dependency only): the whole incident's backlog with the outage
and the re-integration deadline, then the drain, minute by minute."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen: draw to a file

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from tests.replay import Replay

HELD, FALLBACK, SENT, DEADLINE, OUTAGE = "#1f5fae", "#e07b00", "#17723a", "#7a0c3a", "#c0281c"
# A matplotlib Axes, as Any: its stubs take floats where its unit converters take the datetimes drawn here
Axes = Any


def draw(replay: Replay, out: Path) -> None:
    figure, (whole, drain) = plt.subplots(2, 1, figsize=(11, 7.5), gridspec_kw={"height_ratios": [1, 1.1]})
    figure.suptitle(replay.timeline.title, fontsize=13, fontweight="bold")
    _whole(whole, replay)
    _drain(drain, replay)
    figure.text(
        0.01,
        0.005,
        f"Source: {replay.timeline.source} (docs/sources.md). Replayed by `make replay` through "
        "Écluse's lodging, fallback and release code on a simulated clock.",
        fontsize=8,
        color="#5b6675",
    )
    figure.tight_layout(rect=(0, 0.02, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)


def _whole(axes: Axes, replay: Replay) -> None:
    axes.stackplot(
        replay.minutes,
        replay.held,
        replay.emergency,
        colors=[HELD, FALLBACK],
        alpha=0.8,
        labels=["held (queued)", "in the fallback, to re-integrate"],
    )
    if replay.outage:
        axes.axvspan(*replay.outage, color=OUTAGE, alpha=0.08, label="outage")
    if replay.deadline:
        axes.axvline(replay.deadline, color=DEADLINE, linestyle="--", linewidth=2, label="re-integration deadline")
        axes.set_xlim(replay.minutes[0], max(replay.minutes[-1], replay.deadline + timedelta(hours=1)))
    axes.set_ylabel("backlog")
    axes.set_title("The whole incident", loc="left", fontsize=11)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%a %d %H:%M", tz=replay.timeline.start.tzinfo))
    axes.legend(loc="upper left", fontsize=9)
    axes.grid(alpha=0.3)


def _drain(axes: Axes, replay: Replay) -> None:
    if not replay.outage:
        axes.set_axis_off()
        return
    end = replay.drained_at or replay.minutes[-1]
    lo, hi = replay.outage[1] - timedelta(minutes=10), end + timedelta(minutes=10)
    shown = [i for i, m in enumerate(replay.minutes) if lo <= m <= hi]
    minutes = [replay.minutes[i] for i in shown]
    backlog = [replay.held[i] + replay.emergency[i] for i in shown]
    bars = axes.twinx()
    bars.bar(
        minutes,
        [replay.reintegrated[i] for i in shown],
        width=1 / 1440 * 0.8,
        color=SENT,
        alpha=0.55,
        label="re-integrated per minute",
    )
    bars.set_ylabel("re-integrated per minute", color=SENT)
    axes.plot(minutes, backlog, color=HELD, linewidth=2.5, label="backlog")
    axes.set_zorder(bars.get_zorder() + 1)
    axes.patch.set_visible(False)
    axes.axvline(replay.outage[1], color="#16202c", linewidth=1)
    axes.annotate(
        "end of the outage",
        (replay.outage[1], max(backlog, default=0)),
        xytext=(6, -4),
        textcoords="offset points",
        fontsize=9,
        va="top",
    )
    figures = replay.figures()
    verdict = "met" if figures["deadline_met"] else "MISSED"
    zone = replay.timeline.start.tzinfo
    deadline = replay.deadline.astimezone(zone).strftime("%a %d %H:%M") if replay.deadline else "none"
    axes.set_title(
        f"The drain: {figures['drain_minutes']} min for {figures['held_at_peak']} declarations; "
        f"deadline {deadline}: {verdict}",
        loc="left",
        fontsize=11,
    )
    axes.set_ylabel("backlog", color=HELD)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=replay.timeline.start.tzinfo))
    axes.grid(alpha=0.3)

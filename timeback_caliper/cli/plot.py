"""The overview plot: one bar per day of ``trend.buckets``, learning time plus waste stacked by level (matplotlib).

Needs the ``[plot]`` extra; matplotlib is imported only when a plot is drawn, with the non-interactive Agg
backend, so it works on servers without a display.
"""

from __future__ import annotations

import logging
from datetime import timezone, tzinfo
from pathlib import Path

from ..contrib import MissingExtraError
from ..models.insights import Overview
from .render import LEVEL_LABELS, overview_levels

__all__ = ["plot_overview"]

logger = logging.getLogger(__name__)

_COLORS = {
    "learning": "#4c9f70",
    "StudentNotPresent": "#d1495b",
    "EnvironmentalDistractions": "#edae49",
    "OnDeviceDistractions": "#00798c",
    "LearningAppBestPractices": "#8e6c8a",
}


def plot_overview(
    overview: Overview, path: str | Path, *, title: str | None = None, zone: tzinfo | None = None
) -> Path:
    """Draw the overview's daily buckets as stacked bars (minutes) and write them to ``path`` (PNG, SVG or PDF).

    The bottom segment of each bar is learning time (total minus waste); the segments above it are the waste
    of each level, in the documented level order.

    Args:
        overview: What ``client.insights.overview`` returned.
        path: The image file to write; its suffix picks the format.
        title: The plot title.
        zone: The buckets' time zone, for the day labels (UTC by default).

    Returns:
        The path written, absolute.

    Raises:
        MissingExtraError: matplotlib is not installed (``pip install 'timeback-caliper-sync[plot]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed; must precede pyplot's import
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "plot", "the overview plot") from exc

    zone = zone or timezone.utc
    labels = [
        b.started_at_time.astimezone(zone).strftime("%a\n%m-%d") if b.started_at_time else "?" for b in overview.trend
    ]
    positions = list(range(len(labels)))
    series: list[tuple[str, str, list[float]]] = [
        (
            "Learning",
            _COLORS["learning"],
            [max(b.total_duration_in_seconds - b.waste_duration_in_seconds, 0) / 60 for b in overview.trend],
        )
    ]
    for level in overview_levels(overview):
        minutes = [sum(lv.duration_in_seconds for lv in b.levels if lv.level == level) / 60 for b in overview.trend]
        series.append((LEVEL_LABELS.get(level, level), _COLORS.get(level, "#999999"), minutes))

    fig, ax = plt.subplots(figsize=(max(7.0, 0.9 * len(labels) + 3.5), 4.5), dpi=100)
    try:
        bottom = [0.0] * len(labels)
        for name, color, values in series:
            ax.bar(positions, values, bottom=bottom, label=name, color=color, width=0.7)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(positions, labels)
        ax.set_ylabel("minutes")
        ax.set_title(title or "Time by day: learning and waste by level")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        target = Path(path).expanduser().resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target)
    finally:
        plt.close(fig)
    logger.info("wrote the overview plot to %s", target)
    return target

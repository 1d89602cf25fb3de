"""The campaign report: one HTML page per measurement, with a PNG of the conversion lift and
its 95% interval by segment (matplotlib, Agg backend), both logged to MLflow."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, select_autoescape

from lakerec.campaigns.measure import OVERALL, SegmentResult
from lakerec.core.campaigns import Campaign

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Campaign {{ c.name }}: {{ overall.verdict }}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } td, th { padding: .3em .7em; border-bottom: 1px solid #ccc; }
td.num { text-align: right; } .won { color: #1a7f37; } .lost { color: #c62828; }
</style></head><body>
<h1>Campaign {{ c.name }}: <span class="{{ overall.verdict }}">{{ overall.verdict }}</span></h1>
<p>Sent {{ c.send_date }} by {{ c.channel }}; a purchase counts within {{ c.objective.window_days }}
days ({{ c.objective.kind.replace('_', ' ') }}), attributed by last touch. Control:
{{ "%.0f" % (100 * c.holdout_share) }}% held out by a salted hash.
Decision rule, fixed before the send: {{ c.decision.metric }} lift of at least
{{ "%.1f" % (100 * c.decision.min_lift) }} points, significant at alpha {{ c.decision.alpha }};
segments corrected for multiple comparisons by Holm's method.
Sample ratio check: chi-square p = {{ "%.3f" % srm }}.</p>
<img src="data:image/png;base64,{{ png }}" alt="conversion lift by segment, 95% intervals">
<table>
<tr><th>segment</th><th>treatment</th><th>control</th><th>conversion (t / c)</th>
<th>lift, points [95% interval]</th><th>p</th><th>p (Holm)</th>
<th>revenue per customer (t / c)</th><th>incremental conversions</th><th>verdict</th></tr>
{% for r in rows %}
<tr id="segment-{{ loop.index }}"><td>{{ r.segment }}</td>
<td class="num">{{ r.treatment.customers }}</td><td class="num">{{ r.control.customers }}</td>
<td class="num">{{ r.conversion.treatment | pct }} / {{ r.conversion.control | pct }}</td>
<td class="num">{{ r.conversion.absolute | pts }}
 [{{ r.conversion.low | pts }}, {{ r.conversion.high | pts }}]</td>
<td class="num">{{ "%.3g" % r.conversion.p_value }}</td>
<td class="num">{{ "" if r.segment == overall_label else "%.3g" % r.p_adjusted }}</td>
<td class="num">{{ "%.2f / %.2f" % (r.treatment.revenue_mean, r.control.revenue_mean) }}</td>
<td class="num">{{ "%+.1f" % r.incremental_conversions }}</td>
<td class="{{ r.verdict }}">{{ r.verdict }}</td></tr>
{% endfor %}
</table></body></html>
"""


def plot_lift(results: Sequence[SegmentResult], path: Path) -> Path:
    """A PNG: each segment's conversion lift (points) with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r.segment for r in results]
    lifts = [100 * r.conversion.absolute for r in results]
    low = [100 * (r.conversion.absolute - r.conversion.low) for r in results]
    high = [100 * (r.conversion.high - r.conversion.absolute) for r in results]
    fig, ax = plt.subplots(figsize=(6, 0.6 * len(results) + 1.2))
    ax.errorbar(lifts, range(len(results)), xerr=[low, high], fmt="o", capsize=4)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(range(len(results)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("conversion lift, points (95% interval)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(campaign: Campaign, results: Sequence[SegmentResult], srm: float,
                 folder: Path) -> tuple[Path, Path]:
    """``report.html`` (self-contained: the plot is inlined) and ``lift.png`` in ``folder``."""
    png = plot_lift(results, folder / "lift.png")
    env = Environment(autoescape=select_autoescape(default=True))
    env.filters["pct"] = lambda share: f"{100 * share:.1f}%"
    env.filters["pts"] = lambda share: f"{100 * share:+.1f}"
    page = env.from_string(_PAGE).render(
        c=campaign, rows=results, overall=results[0], overall_label=OVERALL, srm=srm,
        png=base64.b64encode(png.read_bytes()).decode())
    html = folder / "report.html"
    html.write_text(page, encoding="utf-8")
    return html, png

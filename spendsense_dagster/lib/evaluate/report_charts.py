"""The evaluation report's charts: matplotlib figures drawn offline (no pyplot, no display) as SVG.

Every function takes plain data and returns SVG text. Labels that come from the data (group names,
check names) are drawn as text, never parsed as mathtext: a region called "$x$" stays "$x$".
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as CurvePath
from matplotlib.ticker import MaxNLocator

# One colour per persona, in registry order; a fixed palette so charts compare across runs.
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#64748b", "#0891b2", "#db2777")
SEVERITY_COLOURS = {"critical": "#dc2626", "notable": "#d97706", "info": "#94a3b8"}
STATUS_COLOURS = {"pass": "#16a34a", "warn": "#d97706", "block": "#dc2626"}
_RC = {
    "text.parse_math": False,  # data labels are text, never mathtext
    "svg.fonttype": "none",  # text stays text: small files, readable in a browser
    "svg.hashsalt": "spendsense",  # stable element ids: the same data gives the same file
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained")


def persona_colours(personas: Sequence[str]) -> dict[str, str]:
    return {persona: PALETTE[index % len(PALETTE)] for index, persona in enumerate(personas)}


def persona_distribution_chart(distribution: Mapping[str, Mapping[str, int]], personas: Sequence[str]) -> str:
    """Customers per persona, one bar group per persona, one bar per window."""
    with matplotlib.rc_context(_RC):
        figure = _figure(7.5, 3.2)
        axes = figure.add_subplot()
        windows = list(distribution)
        width = 0.8 / max(len(windows), 1)
        for offset, window in enumerate(windows):
            counts = [distribution[window].get(persona, 0) for persona in personas]
            positions = [index + offset * width - 0.4 + width / 2 for index in range(len(personas))]
            bars = axes.bar(positions, counts, width, label=f"{window}-day window", color=PALETTE[offset])
            axes.bar_label(bars, padding=2, fontsize=8)
        axes.set_xticks(range(len(personas)), personas, rotation=15, ha="right")
        axes.set_ylabel("customers")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(frameon=False)
        return _svg(figure)


def ratio_chart(ratios: Mapping[str, float | None]) -> str:
    """Named ratios as horizontal bars in percent; a missing ratio is marked n/a."""
    with matplotlib.rc_context(_RC):
        figure = _figure(7.5, 0.45 * len(ratios) + 0.8)
        axes = figure.add_subplot()
        names = list(ratios)
        values = [100 * (ratios[name] or 0.0) for name in names]
        bars = axes.barh(names, values, color="#2563eb")
        axes.bar_label(
            bars,
            [
                f"{value:.1f} %" if ratios[n] is not None else "n/a"
                for n, value in zip(names, values, strict=True)
            ],
            padding=3,
        )
        axes.set_xlim(0, 110)
        axes.invert_yaxis()
        axes.set_xlabel("percent")
        return _svg(figure)


def guardrail_chart(status_counts: Mapping[str, int], findings: Sequence[tuple[str, str, int]]) -> str:
    """Items per guardrail status (left) and findings per check, stacked by severity (right)."""
    with matplotlib.rc_context(_RC):
        checks = sorted({check for check, _, _ in findings})
        figure = _figure(8.5, max(2.6, 0.35 * len(checks) + 1.2))
        status_axes, check_axes = figure.subplots(1, 2, width_ratios=[1, 2.4])
        statuses = list(status_counts)
        bars = status_axes.bar(
            statuses,
            [status_counts[s] for s in statuses],
            color=[STATUS_COLOURS.get(s, "#64748b") for s in statuses],
        )
        status_axes.bar_label(bars, padding=2)
        status_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        status_axes.set_title("items by status")
        if checks:
            left = [0] * len(checks)
            for severity, colour in SEVERITY_COLOURS.items():
                counts = {check: n for check, sev, n in findings if sev == severity}
                values = [counts.get(check, 0) for check in checks]
                if any(values):
                    check_axes.barh(checks, values, left=left, color=colour, label=severity)
                    left = [a + b for a, b in zip(left, values, strict=True)]
            for index, total in enumerate(left):
                check_axes.annotate(
                    str(total), (total, index), xytext=(3, 0), textcoords="offset points", va="center"
                )
            check_axes.invert_yaxis()
            check_axes.legend(frameon=False, loc="lower right")
        else:
            check_axes.text(0.5, 0.5, "no findings", ha="center", va="center", transform=check_axes.transAxes)
            check_axes.set_yticks([])
        check_axes.set_title("findings by check and severity")
        return _svg(figure)


def fairness_chart(
    gaps: Mapping[str, Sequence[tuple[str, Mapping[str, float | None]]]], threshold: float
) -> str:
    """Per fairness dimension, each group's gap from the whole: markers per measure, the ±threshold band
    shaded. A marker outside the band is a flagged group."""
    markers = {
        "partner-offer access (pts)": ("o", "#2563eb"),
        "recommendations per user (%)": ("s", "#16a34a"),
        "guardrail block rate (pts)": ("^", "#d97706"),
    }
    dimensions = [dimension for dimension in gaps if gaps[dimension]]
    with matplotlib.rc_context(_RC):
        rows = sum(len(gaps[d]) for d in dimensions) or 1
        figure = _figure(8.0, 0.32 * rows + 0.9 * max(len(dimensions), 1) + 0.6)
        if not dimensions:
            axes = figure.add_subplot()
            axes.text(0.5, 0.5, "no customers", ha="center", va="center", transform=axes.transAxes)
            axes.set_axis_off()
            return _svg(figure)
        all_axes = figure.subplots(
            len(dimensions), 1, sharex=True, height_ratios=[len(gaps[d]) for d in dimensions]
        )
        all_axes = [all_axes] if len(dimensions) == 1 else list(all_axes)
        values = [abs(v) for d in dimensions for _, m in gaps[d] for v in m.values() if v is not None]
        limit = max([threshold * 2, *values]) * 1.1
        for axes, dimension in zip(all_axes, dimensions, strict=True):
            groups = [group for group, _ in gaps[dimension]]
            axes.axvspan(-threshold, threshold, color="#dcfce7", zorder=0)
            axes.axvline(0, color="#94a3b8", linewidth=0.8)
            for measure, (marker, colour) in markers.items():
                points = [
                    (measures.get(measure), index)
                    for index, (_, measures) in enumerate(gaps[dimension])
                    if measures.get(measure) is not None
                ]
                if points:
                    axes.scatter(
                        [x for x, _ in points],
                        [y for _, y in points],
                        marker=marker,
                        color=colour,
                        label=measure,
                    )
            axes.set_yticks(range(len(groups)), groups)
            axes.set_ylim(len(groups) - 0.5, -0.5)
            axes.set_ylabel(dimension)
            axes.set_xlim(-limit, limit)
        all_axes[-1].set_xlabel(f"gap from all customers; shaded: within ±{threshold:g}")
        handles, labels = all_axes[0].get_legend_handles_labels()
        for axes in all_axes[1:]:
            for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
                if label not in labels:
                    handles.append(handle)
                    labels.append(label)
        figure.legend(handles, labels, loc="outside upper center", ncols=3, frameon=False)
        return _svg(figure)


def latency_chart(latencies_ms: Sequence[float], mean_ms: float | None, p95_ms: float | None) -> str:
    """Histogram of generation time per user, with the mean and p95 marked."""
    with matplotlib.rc_context(_RC):
        figure = _figure(7.5, 3.0)
        axes = figure.add_subplot()
        if latencies_ms:
            axes.hist(
                latencies_ms,
                bins=min(30, max(5, len(latencies_ms) // 3)),
                range=(0, max(latencies_ms) or 1.0),  # times are never negative; all-zero (template) runs too
                color="#93c5fd",
                edgecolor="#2563eb",
            )
            for value, label, style in ((mean_ms, "mean", "-"), (p95_ms, "p95", "--")):
                if value is not None:
                    axes.axvline(value, color="#1e3a8a", linestyle=style, label=f"{label} {value:,.0f} ms")
            axes.legend(frameon=False)
        else:
            axes.text(0.5, 0.5, "no generations recorded", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel("generation time per user (ms, all calls of the run)")
        axes.set_ylabel("users")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        return _svg(figure)


def persona_flow_chart(
    flows: Sequence[tuple[str, str, int]], personas: Sequence[str], dates: tuple[str, str]
) -> str:
    """Customers moving between personas from one as-of date to the next: two stacked columns joined by
    bands as wide as the number of customers who moved that way."""
    colours = persona_colours(personas)
    order = {persona: index for index, persona in enumerate(personas)}
    flows = sorted((f for f in flows if f[2] > 0), key=lambda f: (order.get(f[0], 99), order.get(f[1], 99)))
    total = sum(count for *_, count in flows)
    gap = total * 0.03 + 0.5

    def stacks(side: int) -> dict[str, list[float]]:
        sizes: dict[str, int] = {}
        for flow in flows:
            sizes[flow[side]] = sizes.get(flow[side], 0) + flow[2]
        positions, top = {}, 0.0
        for persona in sorted(sizes, key=lambda p: order.get(p, 99)):
            positions[persona] = [top, top + sizes[persona], top]  # start, end, next free band position
            top += sizes[persona] + gap
        return positions

    with matplotlib.rc_context(_RC):
        figure = _figure(8.0, 4.2)
        axes = figure.add_subplot()
        left, right = stacks(0), stacks(1)
        bar = 0.06
        for side, x, positions in ((0, 0.0, left), (1, 1.0 - bar, right)):
            for persona, (start, end, _) in positions.items():
                axes.add_patch(Rectangle((x, start), bar, end - start, color=colours.get(persona, "#64748b")))
                label = f"{persona} ({end - start:g})"
                if side == 0:
                    axes.text(x - 0.01, (start + end) / 2, label, ha="right", va="center")
                else:
                    axes.text(x + bar + 0.01, (start + end) / 2, label, ha="left", va="center")
        for source, target, count in flows:
            y0, y1 = left[source][2], right[target][2]
            left[source][2] += count
            right[target][2] += count
            x0, x1 = bar, 1.0 - bar
            middle = (x0 + x1) / 2
            vertices = [
                (x0, y0), (middle, y0), (middle, y1), (x1, y1),
                (x1, y1 + count), (middle, y1 + count), (middle, y0 + count), (x0, y0 + count), (x0, y0),
            ]  # fmt: skip
            codes = [CurvePath.MOVETO] + [CurvePath.CURVE4] * 3 + [CurvePath.LINETO] + [CurvePath.CURVE4] * 3
            codes.append(CurvePath.CLOSEPOLY)
            axes.add_patch(
                PathPatch(
                    CurvePath(vertices, codes), color=colours.get(source, "#64748b"), alpha=0.35, linewidth=0
                )
            )
        height = max([end for _, end, _ in left.values()] + [end for _, end, _ in right.values()] + [1])
        axes.set_xlim(-0.45, 1.45)
        axes.set_ylim(height + gap, -gap)
        axes.set_axis_off()
        axes.set_title(f"{dates[0]}  →  {dates[1]}")
        return _svg(figure)

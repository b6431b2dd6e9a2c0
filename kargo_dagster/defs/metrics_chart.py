"""The delivery metrics as a PNG chart for the asset's metadata (needs matplotlib).

Four panels, one bar per Stage: deployments per day, median lead time (hours), change
failure rate (%) and median time to restore (hours). matplotlib is the optional ``charts``
extra; without it the asset shows its table and says how to get the chart.
"""

import base64
import io

from kargo_dagster.delivery_metrics import StageMetrics

__all__ = ["chart_markdown", "metrics_png"]


def metrics_png(rows: list[StageMetrics]) -> bytes | None:
    """The chart as PNG bytes, or None when matplotlib is not installed."""
    try:
        # Imported here: it is optional and slow to import.
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return None
    stages = [r.stage for r in rows]
    panels = [
        ("Deployments per day", [r.deployments_per_day for r in rows]),
        ("Lead time (h)", [(r.lead_time_seconds or 0) / 3600 for r in rows]),
        ("Change failure rate (%)", [(r.change_failure_rate or 0) * 100 for r in rows]),
        ("Time to restore (h)", [(r.time_to_restore_seconds or 0) / 3600 for r in rows]),
    ]
    figure, axes = pyplot.subplots(1, len(panels), figsize=(12, 3), dpi=80)
    try:
        for axis, (title, values) in zip(axes, panels, strict=True):
            axis.bar(stages, values, color="#4f46e5")
            axis.set_title(title, fontsize=10)
            axis.tick_params(axis="x", labelrotation=30, labelsize=8)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        pyplot.close(figure)


def chart_markdown(png: bytes | None) -> str:
    """Markdown showing the chart inline, or how to get it."""
    if png is None:
        return "Install `kargo-dagster[charts]` (matplotlib) to see these metrics as a chart."
    encoded = base64.b64encode(png).decode("ascii")
    return f"![Delivery metrics per Stage](data:image/png;base64,{encoded})"

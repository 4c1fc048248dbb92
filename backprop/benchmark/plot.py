"""The batch-size sweep as a figure: time per step against batch size, one line per backend,
one panel per layer list, with a dotted line at the batch from which each GPU backend overtakes
the CPU."""

from __future__ import annotations

from backprop.benchmark.report import BASELINE, crossover_batch
from backprop.benchmark.runner import MLPResult
from backprop.figures import new_figure


def plot_batch_sweep(results: list[MLPResult], path: str) -> None:
    """Writes the figure to `path` (the format follows its suffix, e.g. .png); needs
    matplotlib."""
    layer_lists = list(dict.fromkeys(r.config.layers for r in results))
    figure = new_figure("plot_batch_sweep", 5.5 * len(layer_lists), 4.2)
    from matplotlib.ticker import NullLocator

    axes = figure.subplots(1, len(layer_lists), squeeze=False)[0]
    for ax, layers in zip(axes, layer_lists):
        for target in dict.fromkeys(r.target for r in results if r.config.layers == layers):
            points = sorted(
                (
                    (r.config.batch, r.timing)
                    for r in results
                    if r.config.layers == layers and r.target == target
                ),
                key=lambda point: point[0],
            )
            batches = [batch for batch, _ in points]
            medians = [timing.median * 1e3 for _, timing in points]
            spread = [
                [(timing.median - timing.min) * 1e3 for _, timing in points],
                [(timing.max - timing.median) * 1e3 for _, timing in points],
            ]
            style = "--" if target.peer else "-"
            drawn = ax.errorbar(
                batches, medians, yerr=spread, fmt=style + "o", capsize=3, label=target.label
            )
            overtakes = crossover_batch(results, target, layers) if not target.peer else None
            if overtakes is not None:
                ax.axvline(
                    overtakes,
                    color=drawn.lines[0].get_color(),
                    linestyle=":",
                    label=f"{target.name} faster than {BASELINE} from here",
                )
        batches = sorted({r.config.batch for r in results if r.config.layers == layers})
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, labels=[str(batch) for batch in batches])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("ms per training step (median, min-max)")
        ax.set_title("MLP " + "-".join(map(str, layers)))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    figure.savefig(path, dpi=120)

"""Draw the README's overview picture from the synthetic generator (no real data).

python scripts/make_readme_figure.py book/images/overview.png
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from papseg_utils.data.synthetic import SyntheticConfig, generate_field  # noqa: E402
from papseg_utils.labels import get_scheme  # noqa: E402
from papseg_utils.viz.samples import overlay  # noqa: E402


def main(out: str) -> None:
    scheme = get_scheme("paper")
    fig, axes = plt.subplots(2, 3, figsize=(8.4, 6.0))
    for col, (seed, difficulty) in enumerate([(3, "easy"), (5, "medium"), (7, "hard")]):
        config = SyntheticConfig(image_size=256, difficulty=difficulty, num_cells=(7, 9))
        image, mask, _ = generate_field(seed, config)
        axes[0, col].imshow(image)
        axes[0, col].set_title(f"synthetic field ({difficulty})", fontsize=10)
        axes[1, col].imshow(overlay(image, mask, scheme, alpha=0.5))
        axes[1, col].set_title("exact mask, paper's classes", fontsize=10)
    for ax in axes.flat:
        ax.set_axis_off()
    handles = [Patch(color=scheme.colour(i, 1.0), label=scheme.label(i)) for i in range(1, 5)]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False)
    fig.suptitle("papseg: segmenting Pap smear cells into the paper's classes", fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "book/images/overview.png")

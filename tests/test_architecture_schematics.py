"""Chapter 5's schematics draw the encoder stages and the image head of the models that train."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from papseg_utils.models import build_model, plots
from papseg_utils.models.heads import ImageHeadModel


def _strides(model: torch.nn.Module, size: int = 64) -> tuple[int, ...]:
    """Downsampling factors of the encoder's feature maps for a (1, 3, size, size) input."""
    x = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        out = model.encoder(x, output_hidden_states=True) if hasattr(model, "hf") else None
        maps = out.hidden_states if out is not None else model.encoder(x)
    return tuple(size // m.shape[-1] for m in maps if m.shape[-1] < size)


@pytest.mark.parametrize("kind", sorted(plots.SCHEMATIC_STRIDES))
def test_schematic_stages_are_the_models_strides(kind):
    model = build_model(kind, 3, **({"num_layers": 1} if kind == "transunet" else {})).eval()
    assert _strides(model) == plots.SCHEMATIC_STRIDES[kind]


@pytest.mark.parametrize("kind", sorted(plots.SCHEMATIC_STRIDES))
def test_the_drawn_image_head_reads_the_deepest_stage(kind):
    """The head box hangs off the 1/32 stage: the head's pooled features are that stage's."""
    base = build_model(kind, 3, **({"num_layers": 1} if kind == "transunet" else {})).eval()
    model = ImageHeadModel(base, 2).eval()
    size = 64
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
        seen = {}
        hook = model.image_head[0].register_forward_hook(lambda m, i, o: seen.update(x=i[0]))
        model(torch.zeros(1, 3, size, size))
        hook.remove()
    assert size // seen["x"].shape[-1] == plots.SCHEMATIC_STRIDES[kind][-1]
    fig = plots.plot_architecture(kind)
    texts = [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    assert any(t.startswith("image head") for t in texts)
    assert f"1/{plots.SCHEMATIC_STRIDES[kind][-1]}" in " ".join(texts)


def test_every_registry_citation_is_in_the_bibliography():
    """The registry table of chapter 5 names each architecture's paper by its BibTeX key."""
    import re
    from pathlib import Path

    from papseg_utils.models import model_table

    bib = (Path(__file__).resolve().parents[1] / "book" / "references.bib").read_text()
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M))
    cited = set(model_table(num_classes=3)["citation"].dropna()) - {""}
    assert cited and cited <= keys, sorted(cited - keys)

"""Colab: the guarded install cell, the launch links, the ``colab`` profile and fp16 on a T4.

Colab itself cannot be reached from here. These tests check what can be checked:
the install cell does nothing outside Colab and only what is missing inside it (run
with a stand-in ``get_ipython``), every notebook starts with the current cell, the
launch buttons of a small built book point at ``notebooks/NN_x.ipynb`` in the
repository named in ``_config.yml``, the ``colab`` profile asks for fp16, and one
fp16 autocast step with a GradScaler trains on the CPU.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest
import torch
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "colab_cell", REPO_ROOT / "scripts" / "colab_cell.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


colab_cell = _load_script()
NOTEBOOKS = colab_cell.notebooks(REPO_ROOT)


class FakeShell:
    """Records the ``!`` and ``%`` commands that IPython would run."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def system(self, cmd: str) -> None:
        self.calls.append(f"!{cmd}")

    def run_line_magic(self, name: str, line: str, *args) -> None:
        self.calls.append(f"%{name} {line}")


def _run_cell(source: str) -> FakeShell:
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(source)
    shell = FakeShell()
    exec(compile(code, "<colab-install>", "exec"), {"get_ipython": lambda: shell})
    return shell


@pytest.fixture
def on_colab(monkeypatch):
    """Pretend to be on Colab: a ``google.colab`` module, and chdir only recorded."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    moves: list[str] = []
    monkeypatch.setattr(os, "chdir", moves.append)
    return moves


def test_install_cell_is_a_noop_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    cwd = Path.cwd()
    shell = _run_cell(colab_cell.cell_source(REPO_ROOT))
    assert shell.calls == [] and Path.cwd() == cwd


def test_install_cell_on_colab_with_everything_present_only_changes_folder(monkeypatch, on_colab):
    import importlib.metadata

    monkeypatch.setattr(os.path, "isdir", lambda p: p == colab_cell.CLONE_DIR)
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.1.0")
    shell = _run_cell(colab_cell.cell_source(REPO_ROOT))
    assert shell.calls == []
    assert on_colab == [colab_cell.CLONE_DIR]


def test_install_cell_on_a_fresh_colab_clones_and_installs(monkeypatch, on_colab):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(os.path, "isdir", lambda p: False)
    monkeypatch.setattr(importlib.metadata, "version", missing)
    shell = _run_cell(colab_cell.cell_source(REPO_ROOT))
    url, branch = colab_cell.repository(REPO_ROOT)
    assert len(shell.calls) == 2
    clone, install = shell.calls
    assert clone.startswith("!git clone") and f"--branch {branch} {url} " in clone
    assert install == f"%pip install -q -e {colab_cell.CLONE_DIR}"
    assert on_colab == [colab_cell.CLONE_DIR]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_starts_with_the_current_install_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert colab_cell.is_current(nb, colab_cell.cell_source(REPO_ROOT)), (
        f"{path.name}: the first code cell is not the current Colab install cell; "
        "run scripts/colab_cell.py"
    )


def test_install_cell_script_is_idempotent(tmp_path):
    source = colab_cell.cell_source(REPO_ROOT)
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    once = colab_cell.apply(nbformat.from_dict(nb), source)
    twice = colab_cell.apply(nbformat.from_dict(once), source)
    assert nbformat.writes(once) == nbformat.writes(twice)
    assert sum(colab_cell.TAG in c.metadata.get("tags", []) for c in twice.cells) == 1


def test_colab_profile_is_sized_for_a_t4():
    from papseg_utils.book.profiles import profile_parameters

    for path in NOTEBOOKS:
        raw = yaml.safe_load(
            (REPO_ROOT / "notebooks" / "profiles" / f"{path.stem}.yaml").read_text()
        )
        assert "colab" in raw, f"{path.stem}.yaml has no colab profile"  # written, not filled in
        assert isinstance(profile_parameters(path.stem, "colab", REPO_ROOT / "notebooks"), dict)
    training = profile_parameters("06_fine_tuning", "colab", REPO_ROOT / "notebooks")
    assert training["precision"] == "fp16"  # a T4 has no native bf16
    assert training["pretrained"] != "none"  # Colab may download hub weights


def test_auto_precision_is_fp16_on_a_gpu_without_native_bf16(monkeypatch):
    from papseg_utils.device import resolve_precision

    # a T4: bf16 only by emulation
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation
    )
    cuda = torch.device("cuda")
    assert resolve_precision("auto", cuda) == "fp16"
    assert resolve_precision("bf16", cuda) == "fp16"
    assert resolve_precision("fp16", cuda) == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert resolve_precision("auto", cuda) == "bf16"


def test_fp16_autocast_with_grad_scaler_trains_on_cpu():
    """What the CPU can check of the T4 recipe: fp16 autocast, scaled loss, unscale, step."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 1)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    images, masks = torch.randn(2, 3, 16, 16), torch.randint(0, 3, (2, 16, 16))
    before = [p.detach().clone() for p in model.parameters()]
    losses = []
    for _ in range(3):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            logits = model(images)
            assert logits.dtype == torch.float16
            loss = torch.nn.functional.cross_entropy(logits.float(), masks)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert scaler.get_scale() == 2.0**10  # no overflow, no skipped step
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert losses[-1] < losses[0]


def test_runner_is_offline_except_on_colab(monkeypatch, tmp_path):
    from papseg_utils.book import colab
    from papseg_utils.book import runner as run

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(colab, "on_colab", lambda: False)
    assert run.kernel_env(tmp_path, 1)["HF_HUB_OFFLINE"] == "1"
    monkeypatch.setattr(colab, "on_colab", lambda: True)
    assert "HF_HUB_OFFLINE" not in run.kernel_env(tmp_path, 1)


def test_on_colab_reads_the_environment(monkeypatch):
    from papseg_utils.book.colab import on_colab

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    for var in ("COLAB_RELEASE_TAG", "COLAB_GPU"):
        monkeypatch.delenv(var, raising=False)
    assert not on_colab()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260101")
    assert on_colab()


# --------------------------------------------------------------------------- launch links


def colab_url(stem: str) -> str:
    """The Colab link a notebook page must carry: the source notebook in the repository."""
    url, branch = colab_cell.repository(REPO_ROOT)
    org_repo = re.sub(r"^https://github\.com/", "", url)
    return (
        f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/notebooks/{stem}.ipynb"
    )


def launch_links(page: Path) -> list[str]:
    html = page.read_text(encoding="utf-8")
    return re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html)


def test_small_book_links_each_notebook_page_to_its_source_in_colab(tmp_path, monkeypatch):
    """A book of one notebook page, built with the repository's _config.yml and extension."""
    from papseg_utils.book.render import build

    mathjax = tmp_path / "mathjax"  # a stand-in: no maths on these pages, nothing is fetched
    mathjax.mkdir()
    (mathjax / "tex-chtml.js").write_text("")
    monkeypatch.setenv("PAPSEG_MATHJAX_DIR", str(mathjax))
    executed = tmp_path / "executed"
    executed.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell("1 + 1")],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, executed / "01_introduction.ipynb")
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        yaml.safe_dump(
            {
                "format": "jb-book",
                "root": "README",
                "chapters": [{"file": "build/executed/01_introduction"}],
            }
        )
    )
    html = build(executed, tmp_path / "out", root=REPO_ROOT, toc=toc, quiet=True)
    page = html / "build" / "executed" / "01_introduction.html"
    assert launch_links(page) == [colab_url("01_introduction")]
    assert (REPO_ROOT / "notebooks" / "01_introduction.ipynb").is_file()
    assert launch_links(html / "README.html") == []  # markdown pages have no launch button

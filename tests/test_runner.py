"""Behaviour of the notebook runner (papseg_utils.book.runner) on tiny throwaway notebooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from papseg_utils.__main__ import COMMANDS
from papseg_utils.__main__ import main as cli_main
from papseg_utils.book import runner

REPO_ROOT = Path(__file__).resolve().parent.parent


def _notebook(path: Path, params: str, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    pcell = nbformat.v4.new_code_cell(params)
    pcell.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Test"),
        pcell,
        *(nbformat.v4.new_code_cell(c) for c in cells),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _profile(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """notebooks/ with 01_ok (typed params), 02_bad (raises in cell 3), 03_after (depends on 02_bad)."""
    nbdir = tmp_path / "notebooks"
    (nbdir / "profiles").mkdir(parents=True)
    _notebook(
        nbdir / "01_ok.ipynb",
        'n: int = 1  # a count\nlr: float = 0.1  # rate\nflag: bool = False  # switch\nout: str = "x"  # folder',
        "import json, os\nresult = {'n': n, 'lr': lr, 'flag': flag, 'out': out, 'cwd': os.getcwd(),"
        " 'hf': os.environ.get('HF_HUB_OFFLINE'), 'mpl': os.environ.get('MPLBACKEND')}",
        "print(json.dumps(result))",
        "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()",
    )
    _notebook(
        nbdir / "02_bad.ipynb",
        "n: int = 1  # a count",
        "x = n + 1",
        "raise ValueError('boom from cell')",
    )
    _notebook(nbdir / "03_after.ipynb", "n: int = 1  # a count", "print('after')")
    _profile(
        nbdir / "profiles" / "01_ok.yaml",
        'smoke: {n: 2, out: "{build}/runs/ok"}\ndefault: {}\nfull: {n: 99}\n',
    )
    _profile(nbdir / "profiles" / "02_bad.yaml", "smoke: {}\ndefault: {}\nfull: {}\n")
    _profile(
        nbdir / "profiles" / "03_after.yaml",
        "depends_on: [02_bad]\nsmoke: {}\ndefault: {}\nfull: {}\n",
    )
    return tmp_path


def _run(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("HF_HUB_OFFLINE", None)
    cmd = [
        sys.executable,
        "-m",
        "papseg_utils",
        "run",
        "--notebooks-dir",
        str(project / "notebooks"),
    ]
    cmd += ["--cwd", str(project), "--out", str(project / "out"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _printed(executed: Path) -> dict:
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout":
                return json.loads(output["text"])
    raise AssertionError(f"no stdout in {executed}")


def test_success_writes_copy_provenance_and_typed_parameters(project: Path) -> None:
    src = project / "notebooks" / "01_ok.ipynb"
    before = src.read_bytes()
    proc = _run(project, "01_ok", "--profile", "smoke", "-p", "lr", "0.5", "-p", "flag", "true")
    assert proc.returncode == 0, proc.stderr
    out = project / "out"
    printed = _printed(out / "01_ok.ipynb")
    # profile value, typed -p overrides, {build} substitution relative to the kernel's cwd
    assert printed["n"] == 2 and printed["lr"] == 0.5 and printed["flag"] is True
    assert printed["out"] == "out/runs/ok"
    assert Path(printed["cwd"]).resolve() == project.resolve()
    assert printed["hf"] == "1" and printed["mpl"] == runner.INLINE_BACKEND
    assert src.read_bytes() == before, "the source notebook must never be modified"
    executed = nbformat.read(out / "01_ok.ipynb", as_version=4)
    pngs = [
        o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(pngs) == 1, "a plt.show() figure must be kept in the executed notebook"

    record = json.loads((out / "01_ok.provenance.json").read_text())
    assert record["status"] == "ok" and record["profile"] == "smoke"
    assert record["parameters"] == {"n": 2, "out": "out/runs/ok", "lr": 0.5, "flag": True}
    assert record["versions"]["papermill"] and record["versions"]["python"]
    assert record["device"]["cpu_count"] >= 1 and "torch_threads" in record["device"]
    assert set(record["git"]) == {"commit", "branch", "dirty"}
    assert record["wall_s"] > 0 and record["started"].endswith("+00:00")
    meta = nbformat.read(out / "01_ok.ipynb", as_version=4).metadata["papseg"]["provenance"]
    assert meta["status"] == "ok" and meta["parameters"] == record["parameters"]


def test_parse_overrides_types_values() -> None:
    got = runner.parse_overrides(
        [["a", "3"], ["b", "0.25"], ["c", "false"], ["d", "[1, 2]"], ["e", "unet"]]
    )
    assert got == {"a": 3, "b": 0.25, "c": False, "d": [1, 2], "e": "unet"}
    assert runner.parse_overrides([["f", "null"], ["g", "'3'"]]) == {"f": None, "g": "3"}


def test_unknown_profile_lists_valid(project: Path) -> None:
    proc = _run(project, "--profile", "huge")
    assert proc.returncode == 2
    assert "unknown profile 'huge'" in proc.stderr and "smoke, default, colab, full" in proc.stderr
    assert not (project / "out").exists()


def test_missing_notebook_lists_available(project: Path) -> None:
    proc = _run(project, "07_nothing", "--profile", "smoke")
    assert proc.returncode == 2
    assert "07_nothing" in proc.stderr and "01_ok, 02_bad, 03_after" in proc.stderr


def test_undeclared_override_lists_declared(project: Path) -> None:
    proc = _run(project, "01_ok", "--profile", "smoke", "-p", "epochs", "3")
    assert proc.returncode == 2
    assert "['epochs']" in proc.stderr and "declared: n, lr, flag, out" in proc.stderr


def test_undeclared_profile_key_is_rejected(project: Path) -> None:
    _profile(
        project / "notebooks" / "profiles" / "01_ok.yaml",
        "smoke: {size: 3}\ndefault: {}\nfull: {}\n",
    )
    with pytest.raises(runner.RunnerError, match=r"profile 'smoke' in 01_ok.yaml sets \['size'\]"):
        runner.plan(
            ["01_ok"],
            "smoke",
            {},
            project / "out",
            notebooks_dir=project / "notebooks",
            cwd=project,
        )


def test_missing_profile_file_names_it(project: Path) -> None:
    (project / "notebooks" / "profiles" / "02_bad.yaml").unlink()
    with pytest.raises(runner.RunnerError, match=r"02_bad.yaml is missing"):
        runner.plan(
            None, "smoke", {}, project / "out", notebooks_dir=project / "notebooks", cwd=project
        )


def test_failure_names_cell_keeps_others_and_skips_dependants(project: Path) -> None:
    proc = _run(project, "--profile", "smoke", "-j", "2")
    assert proc.returncode == 1
    err = proc.stderr
    assert "notebook 02_bad failed" in err
    assert (
        "failing cell: #3 of the source notebook" in err
        and "raise ValueError('boom from cell')" in err
    )
    assert "ValueError: boom from cell" in err and "Traceback" in err
    assert "03_after skipped because its dependency 02_bad (failed)" in err
    out = project / "out"
    assert json.loads((out / "01_ok.provenance.json").read_text())["status"] == "ok"
    assert (out / "01_ok.ipynb").is_file() and (out / "02_bad.ipynb").is_file()
    bad = json.loads((out / "02_bad.provenance.json").read_text())
    assert bad["status"] == "failed" and bad["error"]["source_cell_index"] == 3
    assert bad["error"]["ename"] == "ValueError"
    assert json.loads((out / "03_after.provenance.json").read_text())["status"] == "skipped"
    assert not (out / "03_after.ipynb").exists()


def test_dependency_order_and_cycle(project: Path) -> None:
    nbdir = project / "notebooks"
    _profile(
        nbdir / "profiles" / "01_ok.yaml",
        "depends_on: [03_after]\nsmoke: {}\ndefault: {}\nfull: {}\n",
    )
    jobs = runner.plan(
        ["01_ok", "03_after"], "smoke", {}, project / "o", notebooks_dir=nbdir, cwd=project
    )
    assert [j.stem for j in jobs] == [
        "03_after",
        "01_ok",
    ]  # dependency first, whatever the order asked
    _profile(
        nbdir / "profiles" / "02_bad.yaml",
        "depends_on: [01_ok]\nsmoke: {}\ndefault: {}\nfull: {}\n",
    )
    with pytest.raises(runner.RunnerError, match="dependency cycle"):
        runner.plan(None, "smoke", {}, project / "o", notebooks_dir=nbdir, cwd=project)


def test_timeout_kills_notebook(project: Path) -> None:
    _notebook(
        project / "notebooks" / "04_slow.ipynb",
        "n: int = 1  # a count",
        "import time\ntime.sleep(60)",
    )
    _profile(
        project / "notebooks" / "profiles" / "04_slow.yaml", "smoke: {}\ndefault: {}\nfull: {}\n"
    )
    proc = _run(project, "04_slow", "--profile", "smoke", "--timeout", "3")
    assert proc.returncode == 1
    record = json.loads((project / "out" / "04_slow.provenance.json").read_text())
    assert record["status"] == "failed" and record["error"]["ename"] in (
        "CellTimeoutError",
        "TimeoutError",
    )
    assert record["wall_s"] < 40


def test_cli_dispatch_reports_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'; valid commands: " + ", ".join(COMMANDS) in err
    assert {"run", "book", "predict", "evaluate", "study", "train"} <= set(COMMANDS)
    assert cli_main(["--help"]) == 0


def test_keep_going_runs_valid_notebooks_and_reports_invalid(project: Path) -> None:
    _profile(
        project / "notebooks" / "profiles" / "02_bad.yaml",
        "smoke: {size: 3}\ndefault: {}\nfull: {}\n",
    )
    proc = _run(project, "--profile", "smoke", "--keep-going")
    assert proc.returncode == 1
    assert "notebook 02_bad invalid" in proc.stderr and "['size']" in proc.stderr
    out = project / "out"
    assert json.loads((out / "01_ok.provenance.json").read_text())["status"] == "ok"
    assert json.loads((out / "02_bad.provenance.json").read_text())["status"] == "invalid"
    assert json.loads((out / "03_after.provenance.json").read_text())["status"] == "skipped"


def test_a_recipe_profile_runs_only_where_it_is_defined(project: Path) -> None:
    nbdir = project / "notebooks"
    _profile(
        nbdir / "profiles" / "01_ok.yaml",
        "smoke: {}\ndefault: {}\nfull: {}\nbig-run: {n: 7}\nBad_Name: {n: 1}\n",
    )
    with pytest.raises(runner.RunnerError, match=r"\['Bad_Name'\] are neither"):
        runner.plan(["01_ok"], "big-run", {}, project / "o", notebooks_dir=nbdir, cwd=project)
    _profile(
        nbdir / "profiles" / "01_ok.yaml", "smoke: {}\ndefault: {}\nfull: {}\nbig-run: {n: 7}\n"
    )
    (job,) = runner.plan(["01_ok"], "big-run", {}, project / "o", notebooks_dir=nbdir, cwd=project)
    assert job.parameters == {"n": 7}
    with pytest.raises(
        runner.RunnerError, match="recipe runs only on the notebooks that define it"
    ):
        runner.plan(["02_bad"], "big-run", {}, project / "o", notebooks_dir=nbdir, cwd=project)
    _profile(
        nbdir / "profiles" / "01_ok.yaml", "smoke: {}\ndefault: {}\nfull: {}\nbig-run: {size: 1}\n"
    )
    with pytest.raises(
        runner.RunnerError, match=r"profile 'big-run' in 01_ok.yaml sets \['size'\]"
    ):
        runner.plan(["01_ok"], "big-run", {}, project / "o", notebooks_dir=nbdir, cwd=project)

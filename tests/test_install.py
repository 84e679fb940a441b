"""Packaging: the ``papseg`` command, the supported Pythons, the project root of an install.

A fresh install in new venvs (Python 3.12 and 3.13) is too slow and networked for the
suite; it was run by hand (README, "Beyond this machine"). These tests check the parts
of it that can go wrong in the repository.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

from papseg_utils.__main__ import COMMANDS, main
from papseg_utils.book import runner as run

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_papseg_console_command_is_the_module_entry_point(capsys):
    assert PROJECT["scripts"]["papseg"] == "papseg_utils.__main__:main"
    assert main(["--help"]) == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: papseg <command>")
    assert all(f"  {name} " in usage for name in COMMANDS)
    assert "data" in COMMANDS


def test_requires_python_is_310_to_313():
    spec = SpecifierSet(PROJECT["requires-python"])
    assert all(v in spec for v in ("3.10", "3.11", "3.12", "3.13"))
    assert "3.9" not in spec and "3.14" not in spec
    listed = {c.rsplit(" ", 1)[-1] for c in PROJECT["classifiers"] if ":: 3." in c}
    assert listed == {"3.10", "3.11", "3.12", "3.13"}


def test_project_root_of_an_installed_package_is_the_clone_it_runs_from(tmp_path, monkeypatch):
    from papseg_utils.book import profiles  # where repo_root lives (run re-exports it)

    installed = tmp_path / "venv" / "site-packages" / "papseg_utils" / "book" / "profiles.py"
    clone = tmp_path / "clone"
    (clone / "notebooks").mkdir(parents=True)
    monkeypatch.setattr(profiles, "__file__", str(installed))
    monkeypatch.delenv("PAPSEG_ROOT", raising=False)
    monkeypatch.chdir(clone)
    assert run.repo_root() == clone.resolve()
    monkeypatch.chdir(tmp_path)  # not a clone: the package's folder, named in the error
    assert run.repo_root() == installed.parents[2]
    monkeypatch.setenv("PAPSEG_ROOT", str(clone))
    assert run.repo_root() == clone.resolve()


def test_source_checkout_is_its_own_root(monkeypatch, tmp_path):
    monkeypatch.delenv("PAPSEG_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run.repo_root() == REPO_ROOT


def test_readme_lists_every_command_of_papseg_help():
    """The README's ``papseg --help`` line names the commands that ``papseg --help`` prints."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = [x for x in readme.splitlines() if x.startswith("papseg --help")]
    listed = line.split("#", 1)[1].replace(",", " ").split()
    assert sorted(listed) == sorted(COMMANDS), line

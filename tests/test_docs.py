"""The documentation site: every public name has an API page, and a broken reference fails.

``make docs`` (and ``make test``, before pytest) builds ``docs/`` with warnings as errors and
the notebooks executed. Here: the API pages that ``docs/conf.py`` writes cover every public
name that ``tests/test_docstrings.py`` holds to numpydoc; the built site's inventory lists
them; and a page with a bad cross-reference or a dead link makes the build fail, naming it.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import test_docstrings

DOCS = Path(__file__).resolve().parents[1] / "docs"
pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")


def _conf():
    spec = importlib.util.spec_from_file_location("svdlens_docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documented(conf) -> dict[str, object]:
    """Dotted public path -> object, for every object an API page documents."""
    return {
        f"{package}.{name}": getattr(importlib.import_module(package), name)
        for package, rows in conf.api_entries().items()
        for name, kind in rows
        if kind == "object"
    }


def test_api_pages_cover_every_public_name():
    conf = _conf()
    assert set(test_docstrings.PACKAGES) <= set(conf.API_PACKAGES)
    documented = {id(obj) for obj in _documented(conf).values()}
    jobs = {f"{m}.{n}" for m, n in test_docstrings.CLI_JOBS}  # the command line's, documented by --help
    top_level = {
        path: obj
        for path, obj in test_docstrings.OBJECTS.items()
        if path not in jobs and not isinstance(obj, property) and "." not in obj.__qualname__
    }
    missing = [path for path, obj in top_level.items() if id(obj) not in documented]
    assert not missing, f"public names without an API page: {missing}"
    errors = [
        n for package in conf.API_PACKAGES for n in importlib.import_module(package).__all__ if n == "SvdlensError"
    ]
    assert errors  # the errors are public names too


def test_each_object_is_documented_once():
    documented = _documented(_conf())
    paths = list(documented)
    objects = [id(obj) for obj in documented.values() if not inspect.ismodule(obj)]
    assert len(objects) == len(set(objects)), "an object on two API pages makes Sphinx warn"
    assert "svdlens.svd" in paths and "svdlens.linalg.svd" not in paths


def test_built_site_lists_every_public_name():
    inventory = DOCS / "_build" / "html" / "objects.inv"
    if not inventory.exists():
        pytest.skip("the site is not built here: run `make docs` (make test builds it before pytest)")
    from sphinx.util.inventory import InventoryFile

    inv = InventoryFile.loads(inventory.read_bytes(), uri="")
    names = {name for domain, entries in inv.data.items() if domain.startswith("py:") for name in entries}
    missing = [path for path in _documented(_conf()) if path not in names]
    assert not missing, f"in the API pages but not in the built site: {missing}"
    assert "svdlens.diffusion.Pipeline.directions" in names  # methods get their own entries


def _build(src: Path, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html",
         "-D", "nb_execution_mode=off", "-D", "svdlens_gallery=0", str(src), str(out)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip


def _site(tmp_path: Path, page: str) -> Path:
    """A copy of the site's configuration with one page besides the API reference."""
    src = tmp_path / "docs"
    src.mkdir(parents=True)
    shutil.copy(DOCS / "conf.py", src / "conf.py")
    shutil.copytree(DOCS / "_templates", src / "_templates")
    (src / "index.md").write_text("# Test\n\n```{toctree}\npage\napi/index\n```\n", encoding="utf-8")
    (src / "page.md").write_text(page, encoding="utf-8")
    return src


GOOD = "# Page\n\n## A section\n\nSee {func}`svdlens.svd`, {class}`svdlens.diffusion.Pipeline` and [the section](#a-section).\n"


def test_a_broken_reference_fails_the_build(tmp_path):
    good = _build(_site(tmp_path / "good", GOOD), tmp_path / "good-out")
    assert good.returncode == 0, good.stderr[-3000:]
    bad_page = GOOD + "\nBut {func}`svdlens.no_such_function`, [a page](no-such-page.md) and {ref}`no-such-label`.\n"
    bad = _build(_site(tmp_path / "bad", bad_page), tmp_path / "bad-out")
    assert bad.returncode != 0
    for name in ("svdlens.no_such_function", "no-such-page", "no-such-label"):
        assert name in bad.stderr, f"{name} not named:\n{bad.stderr[-3000:]}"

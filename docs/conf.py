"""Sphinx configuration of the svdlens documentation site.

``make docs`` builds it offline into ``docs/_build/html``: warnings are errors (``-W``),
intersphinx is off and nothing is fetched. The pages are:

- the Markdown guides in this folder (MyST);
- the tutorial notebooks of ``examples/`` (jupytext percent scripts, copied into
  ``tutorials/`` at build time), executed by myst-nb, so every output shown is real;
- the API reference, one page per public package, written here from each package's
  ``__all__`` at build time (see :func:`write_api_pages`) and filled in by autosummary and
  numpydoc from the docstrings;
- the demo's figures: ``svdlens demo --fast`` runs at build time into ``gallery/``
  (:func:`write_gallery`; ``-D svdlens_gallery=0`` skips it).
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
from pathlib import Path

import svdlens

project = "svdlens"
author = "svdlens developers"
copyright = "2026, svdlens developers"
release = version = svdlens.__version__

extensions = [
    "myst_nb",  # Markdown pages and the notebooks (it brings myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.mathjax",
]

HERE = Path(__file__).resolve().parent
exclude_patterns = ["_build", "conf.py", "tutorials/__pycache__", "gallery/cache", "**.ipynb_checkpoints"]
# The guides name source files (``src/...``, ``bench/...``) as paths, not as pages.
suppress_warnings = ["myst.header"]

# Every cross-reference must resolve; names from other projects are not checked, since
# intersphinx is off (nothing is fetched).
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|np|scipy|torch|PIL|matplotlib|dask|distributed|diffusers|transformers|sklearn|typing|collections|pathlib|os)(\..*)?",
    ),
]

# --- MyST and the notebooks -------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 4  # the guides link to each other's sections by their GitHub slugs
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
# Executed on every build (``make docs`` reads every page afresh), so the outputs always come
# from the library as it is now; a cache keyed on the notebook's text would miss library changes.
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_in_temp = True  # the notebooks run from an empty folder, as a reader's would
nb_merge_streams = True
# tqdm warns on import in a kernel without ipywidgets (diffusers imports it); a reader's Jupyter
# usually has them, and the warning is about tqdm, not the tutorial. The kernels inherit this.
os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), "ignore:IProgress not found"]))

# --- API reference ----------------------------------------------------------------------------
autosummary_generate = True
templates_path = ["_templates"]  # classes: every documented member on the class's own page
autodoc_typehints = "none"  # the numpydoc sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# The public packages, in the order their pages appear. A name exported by several packages
# (``svdlens.svd`` is also ``svdlens.linalg.svd``) is documented once, on the first page.
API_PACKAGES = (
    "svdlens",
    "svdlens.linalg",
    "svdlens.faces",
    "svdlens.faces.world",
    "svdlens.nets",
    "svdlens.diffusion",
    "svdlens.scenes",
    "svdlens.report",
    "svdlens.exceptions",
)


def api_entries() -> dict[str, list[tuple[str, str]]]:
    """Package -> the (name, kind) pairs its API page documents, each object once.

    ``kind`` is ``"module"`` for a public subpackage (linked, not documented twice), and
    ``"object"`` for everything else.

    Returns
    -------
    dict
        One list per package of :data:`API_PACKAGES`, in ``__all__`` order.
    """
    seen: set[int] = set()
    entries: dict[str, list[tuple[str, str]]] = {}
    for package in API_PACKAGES:
        module = importlib.import_module(package)
        names = getattr(module, "__all__", None) or [
            n for n, v in vars(module).items() if not n.startswith("_") and getattr(v, "__module__", "") == package
        ]
        rows: list[tuple[str, str]] = []
        for name in names:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                rows.append((name, "module"))
            elif name == "__version__" or id(obj) in seen:
                continue
            else:
                seen.add(id(obj))
                rows.append((name, "object"))
        entries[package] = rows
    return entries


def copy_tutorials() -> None:
    """Copy ``examples/`` into ``tutorials/`` (generated, git-ignored), the notebooks' page home."""
    folder = HERE / "tutorials"
    folder.mkdir(exist_ok=True)
    for source in sorted((HERE.parent / "examples").glob("*")):
        if source.suffix in (".py", ".md"):
            _write_if_changed(folder / source.name, source.read_text(encoding="utf-8"))


def write_api_pages() -> None:
    """Write ``api/index.md`` and one page per public package (generated, git-ignored)."""
    folder = HERE / "api"
    shutil.rmtree(folder, ignore_errors=True)  # a stub left from a name no longer public would warn
    folder.mkdir()
    pages = []
    for package, rows in api_entries().items():
        objects = [n for n, kind in rows if kind == "object"]
        modules = [n for n, kind in rows if kind == "module"]
        lines = [f"# `{package}`", "", "```{eval-rst}", f".. automodule:: {package}", "   :no-members:", "```", ""]
        if modules:
            lines += ["Subpackages: " + ", ".join(f"`{package}.{m}`" for m in modules), ""]
        if objects:
            lines += [
                "```{eval-rst}",
                f".. currentmodule:: {package}",
                "",
                ".. autosummary::",
                "   :toctree: generated",
                "   :nosignatures:",
                "",
                *[f"   {n}" for n in objects],
                "```",
                "",
            ]
        _write_if_changed(folder / f"{package}.md", "\n".join(lines))
        pages.append(package)
    index = ["# API reference", "", "Every public name, one page per package.", "", "```{toctree}", ":maxdepth: 1", ""]
    _write_if_changed(folder / "index.md", "\n".join([*index, *pages, "```", ""]))


def _write_if_changed(path: Path, text: str) -> None:
    """Rewrite only on change, so that Sphinx's incremental build stays incremental."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_gallery() -> None:
    """Run the demo (fast setting) into ``gallery/`` and write its page: each section's numbers and figures."""
    from svdlens.report import run_demo

    folder = HERE / "gallery"
    summary = run_demo(folder, fast=True, cache_dir=HERE / "_build" / "demo-cache", force=True)
    lines = [
        "# The demo's figures",
        "",
        "`svdlens demo --fast` ran while this site was built; below are its sections in the",
        "script's order, each with the numbers it printed and the figures it drew. The full",
        "setting (`svdlens demo`, see [the demo](../demo.md)) uses more DDIM steps, directions",
        "and faces. The diffusion sections run on the built-in face-world model, trained on rendered",
        "faces whose factors are known, so each direction is labelled with the factor it moves",
        "([the built-in models](../diffusion.md#the-built-in-models)).",
        "",
        f"Model: `{summary['model']}`; {len(summary['sections'])} sections in {summary['seconds']:.0f} s.",
        "",
    ]
    for section in summary["sections"]:
        numbers = [line.rstrip() for line in section["lines"]]
        while numbers and not numbers[-1]:
            numbers.pop()
        lines += [f"## {section['key']}. {section['title']}", ""]
        if numbers:
            lines += ["```text", *numbers, "```", ""]
        lines += [f"![{section['title']}]({name})\n" for name in section["files"] if name.endswith((".png", ".gif"))]
    _write_if_changed(folder / "index.md", "\n".join(lines))


def generate_pages(app: object, config: object) -> None:
    """Before autosummary looks for its directives (at ``builder-inited``), write the pages."""
    copy_tutorials()
    write_api_pages()
    if config.svdlens_gallery:  # type: ignore[attr-defined]
        write_gallery()


def setup(app: object) -> None:
    app.add_config_value("svdlens_gallery", True, "env", bool)  # type: ignore[attr-defined]
    app.connect("config-inited", generate_pages)  # type: ignore[attr-defined]


# --- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "svdlens"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []

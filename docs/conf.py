"""Sphinx configuration of the nashlab documentation.

Build (offline, warnings are errors)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

Everything the code knows is generated here at build time, never copied by hand
(``docs/_ext/generate.py``): the API pages (from each package's ``__all__``), the
command-line pages (from the argparse parsers), the theorem registry pages (from
``nashlab.theory.all_theorems()``, bounds rendered with ``sympy.latex``, the tightness
measured on the quick suites of ``nashlab verify``). Set ``NASHLAB_DOCS_MEASURE=0`` to skip
the measurement (about 30 s).
"""

import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import generate  # noqa: E402  (docs/_ext/generate.py)

import nashlab  # noqa: E402

project = "nashlab"
author = "the nashlab developers"
copyright = "the nashlab developers"
release = version = nashlab.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "plaintext",  # docs/_ext/plaintext.py: nashlab's plain-text docstrings as RST
]

# --- the generated pages (API, CLI, theorem registry) -------------------------------------
generate.api_pages(DOCS / "api")
generate.methods_page(DOCS / "api" / "methods.rst")
generate.cli_page(DOCS / "api" / "cli_usage.rst")
generate.theorem_pages(DOCS / "theorems", measure=os.environ.get("NASHLAB_DOCS_MEASURE", "1") != "0")

# --- autodoc / napoleon ----------------------------------------------------------------------
# The generated API pages, named explicitly: autosummary would otherwise look only at the
# documents the previous build found (a package new since then would get no stubs).
autosummary_generate = sorted(f"api/{p.name}" for p in (DOCS / "api").glob("*.rst"))
autosummary_imported_members = False
autodoc_default_options = {"members": False}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = False  # True re-reads the source files: a file edited during the build breaks it
# The neural layer imports torch lazily; mock it only where the neural extra is missing.
if importlib.util.find_spec("torch") is None:
    autodoc_mock_imports = ["torch", "transformers", "accelerate", "safetensors"]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

# --- markdown ---------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

# --- gallery ------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # run by hand: the neural examples need the extra and train (tests/scaling runs them),
    # falsify_known_false takes minutes
    "ignore_pattern": r"(finetune_hf|trl_nash_md|nash_md_native|falsify_known_false)\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "abort_on_example_error": True,
}

# --- offline: no intersphinx inventory is fetched, MathJax is served from the build -----------
intersphinx_mapping = {}
mathjax_path = generate.local_mathjax(DOCS / "_mathjax")
html_static_path = ["_static"] + ([str(DOCS / "_mathjax")] if mathjax_path.startswith("mathjax/") else [])
html_css_files = ["nashlab.css"]
templates_path = ["_templates"]  # autosummary/class.rst: no separate __init__ entry

exclude_patterns = ["_build", "_ext", "_mathjax", "_templates", "Thumbs.db", ".DS_Store",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.json", "auto_examples/*.codeobj.json"]

# --- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"nashlab {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": {"**": ["page-toc"], "guides/backends": [], "api/methods": []},
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": [], "getting_started": []}
html_show_sourcelink = False
html_copy_source = False

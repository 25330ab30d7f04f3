# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install -q --disable-pip-version-check
# torch is installed first and pinned, so that nothing pulls the multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install install-test install-docs install-browser install-system install-video install-bench demo docs test lint bench bench-scale clean

install:
	$(PIP) "$(TORCH)"
	$(PIP) -e .

install-test: install install-browser install-system install-video
	$(PIP) -e ".[test]"

install-docs: install
	$(PIP) -e ".[docs]"

# The video extra (Manim) builds pycairo and ManimPango against Debian's cairo and pango.
install-video:
	@pkg-config --exists cairo pangocairo 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends gcc pkg-config libcairo2-dev libpango1.0-dev fonts-dejavu-core >/dev/null; } || \
		echo "note: could not install cairo and pango with apt-get; the video tests will be skipped"
	@$(PIP) -e ".[video]" || echo "note: could not install the video extra; the video tests will be skipped"

# ffmpeg writes the MP4 animations (explain, video); from Debian's packages, as root.
SYSTEM_PACKAGES = ffmpeg
install-system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing >/dev/null || \
		echo "note: could not install$$missing with apt-get; the tests that need them will skip"; fi

# The app's browser test drives Debian's Chromium through Playwright (no browser download).
install-browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
		echo "note: could not install chromium with apt-get; the browser test will not run"

install-bench: install install-video
	$(PIP) -e ".[bench,test]"

demo: install
	svdlens demo --out out/demo

# The documentation site, offline, into docs/_build/html: every page read afresh (-E), the
# notebooks executed, the fast demo run for its figures, warnings as errors, intersphinx off.
SPHINX = $(PYTHON) -m sphinx -E -W --keep-going -q -b html docs docs/_build/html
docs: install-docs
	$(SPHINX)
	@echo "open docs/_build/html/index.html"

# The habits that keep the code as it is: lint, format, types, the docs, then the tests
# (doctests included; tests/test_docs.py reads the site just built).
lint:
	$(PYTHON) -m ruff check src tests bench examples docs/conf.py
	$(PYTHON) -m ruff format --check src tests bench examples docs/conf.py
	$(PYTHON) -m mypy

# Two pytest workers, a file each at a time (module fixtures are built once per file); on the
# 2-core CI machine a fresh clone's tests took 384 s, against 713 s in one process (TEST_WORKERS=0).
TEST_WORKERS ?= 2
test: install-test lint
	$(SPHINX)
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: install-bench
	$(PYTHON) bench/svd.py
	$(PYTHON) bench/faces.py
	$(PYTHON) bench/jacobian.py
	$(PYTHON) bench/attention.py
	$(PYTHON) bench/explain.py
	$(PYTHON) bench/diffusion.py
	$(PYTHON) bench/demo.py
	$(PYTHON) bench/reliability.py
	$(PYTHON) bench/video.py
	$(PYTHON) bench/semantics.py --images 4 --k 5 --k-local 10 --samples 256 --steps 25 --more-steps 100
	$(PYTHON) bench/local_edits.py
	$(PYTHON) bench/warm_starts.py
	$(PYTHON) bench/warm_starts.py --model builtin
	$(PYTHON) bench/krylov_gap.py
	$(PYTHON) bench/inversion.py

# Hours on 2 cores, and up to 16 GB: real-scale models with random weights (see docs/benchmarks.md).
bench-scale: install-bench
	$(PYTHON) bench/scale.py --limit-gb 16
	$(PYTHON) bench/warm_starts_celebahq.py

clean:
	rm -rf build dist .pytest_cache .hypothesis src/*.egg-info docs/_build docs/api docs/tutorials docs/gallery

# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install -q --disable-pip-version-check
# torch is installed first and pinned, so that nothing pulls the multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install install-test install-bench demo test bench clean

install:
	$(PIP) "$(TORCH)"
	$(PIP) -e .

install-test: install
	$(PIP) -e ".[test]"

install-bench: install
	$(PIP) -e ".[bench,test]"

demo: install
	svdlens svd "0.4 0.2; 1 3"
	svdlens explain "0.4 0.2; 1 3" --vector "2 1" --out out/explain
	svdlens eigenfaces --out out/eigenfaces

test: install-test
	$(PYTHON) -m pytest -q

bench: install-bench
	$(PYTHON) bench/svd.py
	$(PYTHON) bench/faces.py
	$(PYTHON) bench/jacobian.py
	$(PYTHON) bench/explain.py
	$(PYTHON) bench/diffusion.py

clean:
	rm -rf build dist .pytest_cache .hypothesis src/*.egg-info

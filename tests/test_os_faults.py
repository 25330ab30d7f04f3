"""Operating-system faults while writing results: a clear error naming the path, nothing half-written.

``--out`` is checked while the flags are read, before any model loads: a file in its place,
a path under ``/proc``, a read-only file system. A disk that fills up during the writes ends in
one line naming the folder, and the folder keeps nothing of the run. The real faults come from
small tmpfs mounts (as root, which CI is); where mounting is not allowed those tests skip and the
simulated fault (an ``OSError(ENOSPC)`` from the writer) still runs.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from svdlens._atomic import check_output_folder, staged_output
from svdlens.cli import app
from svdlens.exceptions import OutputError


def _mount(where: Path, options: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    return where


@pytest.fixture
def mounts(tmp_path):
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    made: list[Path] = []
    yield lambda name, options: made.append(_mount(tmp_path / name, options)) or made[-1]
    for where in made:
        subprocess.run(["umount", str(where)], capture_output=True)


def _run(args):
    return CliRunner().invoke(app, args)


@pytest.fixture
def no_model(monkeypatch):
    """Any model load fails the test: the refusals must come before the work."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before --out was checked")

    for module in ("_sample", "_edit", "_directions", "_transport"):
        monkeypatch.setattr(f"svdlens.cli.{module}.pipeline", refuse)


@pytest.mark.parametrize("command", [["sample"], ["edit", "--seed", "0"], ["directions", "--seed", "0"]])
def test_an_out_that_is_a_file_or_under_proc_is_refused_before_any_work(tmp_path, no_model, command):
    afile = tmp_path / "results"
    afile.write_text("mine")
    result = _run([*command, "--out", str(afile), "--quiet"])
    said = " ".join(result.output.split())  # the message wraps at the terminal's width, wherever the path ends
    assert result.exit_code == 2 and "is a file" in said
    assert afile.read_text() == "mine"
    result = _run([*command, "--out", "/proc/svdlens-results", "--quiet"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "cannot write to the output folder /proc/svdlens-results" in said
    assert "Traceback" not in result.output


def test_an_out_under_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="cannot make the output folder .*/f/sub: .*/f is not a folder"):
        check_output_folder(tmp_path / "f" / "sub")


def test_a_read_only_file_system_is_refused_before_any_work(mounts, no_model):
    ro = mounts("ro", "size=64k,ro")
    result = _run(["sample", "--out", str(ro / "out"), "--quiet"])
    assert result.exit_code == 2 and "Read-only file system" in " ".join(result.output.split())


def test_a_full_disk_ends_in_one_line_and_leaves_nothing(mounts):
    small = mounts("small", "size=64k")
    result = _run(["sample", "--n", "32", "--steps", "2", "--out", str(small / "out"), "--quiet"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and text.count("error:") == 1
    expected = f"could not write the results to {small / 'out'} (No space left on device)"
    assert "".join(expected.split()) in "".join(text.split())  # rich folds a long path anywhere
    assert list(small.iterdir()) == []  # no staging folder, no half-written output folder


def test_a_simulated_full_disk_keeps_the_folder_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match=r"could not write the results to .*out \(No space left on device\)"):
        with staged_output(out) as stage:
            (stage / "a.txt").write_text("first")
            full()
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"] and not list(tmp_path.glob(".svdlens-*"))


def test_a_fault_outside_the_output_is_not_blamed_on_it(tmp_path):
    with pytest.raises(PermissionError):
        with staged_output(tmp_path / "out"):
            raise PermissionError(errno.EACCES, "Permission denied", "/etc/some-input")
    with pytest.raises(OSError, match="Bad file descriptor"):
        with staged_output(tmp_path / "out"):
            np.save(tmp_path / "x.npy", np.zeros(3))
            raise OSError(errno.EBADF, "Bad file descriptor")

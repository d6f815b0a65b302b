"""The CLI against hostile places to write and bad numbers: one sentence, exit status 2,
no traceback, nothing of the user's touched, and the previous export or bundle intact.

A full or read-only disk is made for real where the sandbox lets root mount a small
tmpfs ("tmpfs" in the test id); the same test also runs with the error injected at
the write call ("injected"), so it runs everywhere.
"""

import contextlib
import errno
import os
import pathlib
import subprocess

import numpy as np
import pytest

from tilting.precompute.artifacts import read_bundle
from tilting.cli.main import main
from tests.helpers import requires_mnist

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
EROFS = OSError(errno.EROFS, os.strerror(errno.EROFS))


def assert_one_sentence(code, err, *fragments):
    assert code == 2, err
    assert all(f in err for f in fragments) and "Traceback" not in err, err
    assert err.count("\n") == 1, err


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- A small real filesystem --------------------------------------------------------------

def _mount(*args):
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(path):
    """A fresh tmpfs on ``path``; skips the test where mounting is not permitted."""
    path.mkdir()
    result = _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(path))
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}); the 'injected' variant covers it")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill_up(mount, spare_kib):
    """Shrink the tmpfs to what it holds now plus ``spare_kib``."""
    stat = os.statvfs(mount)
    used_kib = (stat.f_blocks - stat.f_bfree) * stat.f_frsize // 1024
    assert _mount("-o", f"remount,size={used_kib + spare_kib}k", str(mount)).returncode == 0


def make_read_only(mount):
    assert _mount("-o", "remount,ro", str(mount)).returncode == 0


def refuse_mkdir_under(monkeypatch, folder, error):
    """Every new folder under ``folder`` fails with ``error`` (as on a read-only mount)."""
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if pathlib.Path(os.path.abspath(path)).is_relative_to(folder):
            raise OSError(error.errno, error.strerror, os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)


@pytest.fixture(params=["tmpfs", "injected"])
def disk(request, tmp_path):
    """(how, folder): a folder on its own tmpfs, or a plain folder for injected errors."""
    if request.param == "tmpfs":
        with tmpfs(tmp_path / "mnt") as mount:
            yield request.param, mount
    else:
        folder = tmp_path / "mnt"
        folder.mkdir()
        yield request.param, folder


# --- tilting serve ---------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["--port", "70000"], "70000 is not a port number"),
    (["--port", "0"], "0 is not a port number"),
    (["--port", "-1"], "-1 is not a port number"),
    (["--port", "http"], "http is not a port number"),
    (["--workers", "0"], "at least 1"),
])
def test_serve_refuses_bad_numbers_before_starting(args, fragment, tmp_path, capsys, monkeypatch):
    def serve(args):
        raise AssertionError(f"the server started on port {args.port}")

    monkeypatch.setattr("tilting.backend.server.serve", serve)
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--artifacts", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and fragment in err and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("tilting serve: error:")  # argparse's usage line, then the sentence


# --- tilting precompute --out ----------------------------------------------------------

@pytest.fixture()
def no_computing(monkeypatch):
    """Any attempt to load MNIST (the start of minutes of computing) fails the test."""
    def load_dataset(mnist_dir):
        raise AssertionError("computing started before --out was checked")

    monkeypatch.setattr("tilting.cli.main.load_dataset", load_dataset)


def test_precompute_out_under_a_file_is_refused_at_once(tmp_path, capsys, no_computing):
    (tmp_path / "afile").write_text("a")
    code = main(["precompute", "--out", str(tmp_path / "afile" / "sub"), "--log-lambda", "-2,0"])
    assert_one_sentence(code, capsys.readouterr().err, "afile is a file")
    assert (tmp_path / "afile").read_text() == "a"


def test_precompute_out_that_cannot_be_written_is_refused_at_once(disk, capsys, monkeypatch, no_computing):
    how, mount = disk
    if how == "tmpfs":
        make_read_only(mount)
    else:
        refuse_mkdir_under(monkeypatch, mount, EROFS)
    code = main(["precompute", "--out", str(mount / "artifacts"), "--log-lambda", "-2,0"])
    assert_one_sentence(code, capsys.readouterr().err, str(mount / "artifacts"), "Read-only file system")


def test_precompute_creates_nothing_when_refusing(tmp_path, capsys):
    code = main(["precompute", "--out", str(tmp_path / "new" / "artifacts"), "--pair", "3", "3"])
    assert code == 2 and "must differ" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []  # the check probed, and left no folder behind


@requires_mnist
def test_precompute_full_disk_is_one_sentence_and_keeps_the_bundle(disk, capsys, monkeypatch):
    how, mount = disk
    out = mount / "artifacts"
    args = ["precompute", "--out", str(out), "--pair", "2", "3", "--per-class", "100", "--quiet"]
    assert main([*args, "--log-lambda", "-2,0"]) == 0
    capsys.readouterr()
    before = read_bundle(out / "mnist-2-3-100")
    target, files = os.readlink(out / "mnist-2-3-100"), snapshot(out / "mnist-2-3-100")
    if how == "tmpfs":
        fill_up(mount, spare_kib=64)  # less than one bundle
    else:
        real_save = np.save

        def save(file, array, *a, **k):
            real_save(file, array[: len(array) // 2] if array.ndim else array, *a, **k)
            raise OSError(ENOSPC.errno, ENOSPC.strerror)

        monkeypatch.setattr(np, "save", save)
    code = main([*args, "--log-lambda", "-3,-1,1"])
    assert_one_sentence(code, capsys.readouterr().err, str(out), "No space left on device")
    monkeypatch.undo()
    assert os.readlink(out / "mnist-2-3-100") == target
    assert snapshot(out / "mnist-2-3-100") == files
    assert read_bundle(out / "mnist-2-3-100").manifest == before.manifest


# --- tilting export onto a read-only or full disk ----------------------------------------

@pytest.fixture()
def first_export(small_bundle, disk):
    """An export on the test disk: (how the disk fails, its mount, the site, the command, the site's files)."""
    how, mount = disk
    site = mount / "site"
    export = ["export", "--artifacts", str(small_bundle.path.parent), "--out", str(site)]
    assert main(export) == 0
    return how, mount, site, export, snapshot(site)


def test_export_to_a_read_only_disk(first_export, capsys, monkeypatch):
    how, mount, site, export, before = first_export
    if how == "tmpfs":
        make_read_only(mount)
    else:
        refuse_mkdir_under(monkeypatch, mount, EROFS)
    assert_one_sentence(main(export), capsys.readouterr().err, str(site), "Read-only file system")
    assert snapshot(site) == before and os.listdir(mount) == ["site"]


def test_export_to_a_full_disk(first_export, capsys, monkeypatch):
    how, mount, site, export, before = first_export
    if how == "tmpfs":
        fill_up(mount, spare_kib=1024)  # less than plotly.js alone: fails mid-write
    else:
        real_write, written = pathlib.Path.write_bytes, []

        def write_bytes(self, data):
            if len(written) == 20:
                raise OSError(ENOSPC.errno, ENOSPC.strerror)
            written.append(self)
            return real_write(self, data)

        monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    assert_one_sentence(main(export), capsys.readouterr().err, str(site), "No space left on device")
    assert snapshot(site) == before
    assert os.listdir(mount) == ["site"]  # the half-written copy is gone

"""Damage every file of a bundle in turn: the damage is always caught and named."""

import shutil

import pytest

from precompute.artifacts import BundleError, read_bundle
from precompute.cli import main

DAMAGES = ("flip", "truncate", "delete")


def damage(path, how):
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x5A
        path.write_bytes(bytes(data))


@pytest.fixture()
def bundle_copy(small_bundle, tmp_path):
    """A writable copy of the small real bundle (as a plain folder)."""
    root = tmp_path / "artifacts"
    root.mkdir()
    shutil.copytree(small_bundle.path.resolve(), root / "mnist-2-3")
    return root


def bundle_files(small_bundle):
    return ["manifest.json"] + [e["file"] for e in small_bundle.manifest["arrays"].values()]


@pytest.mark.parametrize("how", DAMAGES)
def test_every_file_damaged_is_named_by_reader_and_verify(how, small_bundle, bundle_copy, capsys):
    for name in bundle_files(small_bundle):
        target = bundle_copy / "mnist-2-3" / name
        original = target.read_bytes()
        damage(target, how)
        with pytest.raises(BundleError, match=name.replace(".", r"\.")):
            read_bundle(bundle_copy / "mnist-2-3")
        assert main(["verify", "--artifacts", str(bundle_copy)]) == 2
        err = capsys.readouterr().err
        assert name in err and "Traceback" not in err and err.count("\n") == 1
        target.write_bytes(original)
    assert main(["verify", "--artifacts", str(bundle_copy)]) == 0

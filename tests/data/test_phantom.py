"""The phantom never overwrites real data; it replaces only an earlier phantom."""

import hashlib

import pytest

from buslib.cli import main
from buslib.data.phantom import PHANTOM_MARKER, is_phantom, write_phantom


def digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_phantom_refuses_a_folder_that_holds_real_data(phantom_copy, capsys):
    (phantom_copy / PHANTOM_MARKER).unlink()  # now it looks like a user's real download
    before = digests(phantom_copy)
    with pytest.raises(FileExistsError, match="not empty and not an earlier phantom"):
        write_phantom(phantom_copy, seed=5)
    assert main(["phantom", str(phantom_copy)]) == 2
    assert "never over real data" in capsys.readouterr().err
    assert digests(phantom_copy) == before and not is_phantom(phantom_copy)


def test_phantom_refuses_an_earlier_phantom_with_other_files_beside_it(phantom_copy):
    (phantom_copy / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        write_phantom(phantom_copy)
    assert (phantom_copy / "notes.txt").read_text() == "mine"


def test_phantom_replaces_an_earlier_phantom_and_fills_an_empty_folder(phantom_copy, tmp_path):
    write_phantom(phantom_copy, seed=7)
    assert is_phantom(phantom_copy)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert is_phantom(write_phantom(empty))

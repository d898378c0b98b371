"""Atomic writes: the target appears whole or not at all, and no temp file is left."""
import os

import pytest

from vmmemviz.outputfile import atomic_dir, atomic_file


def test_file_appears_only_at_the_end(tmp_path):
    out = tmp_path / "a.png"
    with atomic_file(out) as tmp:
        tmp.write_bytes(b"half")
        assert not out.exists() and tmp.parent == tmp_path
    assert out.read_bytes() == b"half"
    assert os.listdir(tmp_path) == ["a.png"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_error_leaves_old_file_and_no_temp(tmp_path):
    out = tmp_path / "a.gif"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_file(out) as tmp:
            tmp.write_bytes(b"new, half written")
            raise RuntimeError("disk on fire")
    assert out.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.gif"]


def test_folder_replaces_old_folder_whole(tmp_path):
    out = tmp_path / "frames"
    out.mkdir()
    (out / "stale.png").write_bytes(b"x")
    with atomic_dir(out) as tmp:
        (tmp / "frame-0001.png").write_bytes(b"1")
        assert (out / "stale.png").exists()
    assert sorted(os.listdir(out)) == ["frame-0001.png"]
    assert os.listdir(tmp_path) == ["frames"]


def test_folder_error_leaves_nothing(tmp_path):
    out = tmp_path / "frames"
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(out) as tmp:
            (tmp / "frame-0001.png").write_bytes(b"1")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_missing_folder_is_an_error_before_anything_is_written(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_file(tmp_path / "nope" / "a.png"):
            pass


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_the_umask_is_never_read_or_changed_and_still_applies(tmp_path):
    """Importing or writing must not touch the process umask (another thread may create
    files meanwhile); new files still get the modes the umask allows."""
    import subprocess
    import sys
    code = (
        "import os, sys\n"
        "def no(*a): raise AssertionError('os.umask called')\n"
        "os.umask(0o077); os.umask = no\n"
        "from vmmemviz.outputfile import atomic_file, atomic_dir\n"
        "with atomic_file(sys.argv[1] + '/f') as t: t.write_bytes(b'x')\n"
        "with atomic_dir(sys.argv[1] + '/d') as t: pass\n"
        "print(oct(os.stat(sys.argv[1] + '/f').st_mode & 0o777), oct(os.stat(sys.argv[1] + '/d').st_mode & 0o777))\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": root}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0o600", "0o700"]

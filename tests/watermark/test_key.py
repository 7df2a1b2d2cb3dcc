from __future__ import annotations

import os
import stat
import warnings

import pytest

from watermark import InsecureKeyFileWarning, Key, KeyFileError, KeyMaterialError, LeaktraceWarning


def test_saved_key_round_trips_and_is_owner_only(tmp_path):
    key = Key.generate()
    path = tmp_path / "hospital.key"
    key.save(path)
    assert Key.from_file(path) == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    path = tmp_path / "k"
    Key.generate().save(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="exists"):
        Key.generate().save(path)
    assert path.read_bytes() == before
    replacement = Key.generate()
    replacement.save(path, overwrite=True)
    assert Key.from_file(path) == replacement


def test_missing_key_file_names_the_file(tmp_path):
    with pytest.raises(KeyFileError, match="nope.key.*does not exist"):
        Key.from_file(tmp_path / "nope.key")


def test_truncated_key_file_is_rejected(tmp_path):
    path = tmp_path / "k"
    Key.generate().save(path)
    path.write_text(path.read_text()[:-20])
    with pytest.raises(KeyFileError, match="truncated or malformed"):
        Key.from_file(path)


@pytest.mark.parametrize("content", ["", "hello\n", "leaktrace-key-v1\n" + "zz" * 32 + "\n", "\x00\xff\x10"])
def test_malformed_key_file_is_rejected(tmp_path, content):
    path = tmp_path / "bad.key"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(KeyFileError, match="bad.key"):
        Key.from_file(path)


def test_fingerprint_is_stable_and_does_not_reveal_the_key():
    key = Key(bytes(range(32)))
    assert key.fingerprint == Key(bytes(range(32))).fingerprint
    assert key.fingerprint != Key(bytes(32)).fingerprint
    assert bytes(range(32)).hex()[:8] not in key.fingerprint.replace("-", "")
    assert key.fingerprint in repr(key)


def test_key_must_be_32_bytes():
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        Key(b"short")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_file_readable_by_others_warns(tmp_path, mode):
    key = Key.generate()
    path = tmp_path / "hospital.key"
    key.save(path)
    os.chmod(path, mode)
    with pytest.warns(InsecureKeyFileWarning, match=rf"hospital\.key.*readable by (group|others|group and others).*chmod 600") as caught:
        assert Key.from_file(path) == key
    (warning,) = caught.list
    assert warning.message.path == str(path) and warning.message.mode == mode
    assert issubclass(InsecureKeyFileWarning, LeaktraceWarning) and issubclass(InsecureKeyFileWarning, UserWarning)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_owner_only_key_file_loads_without_a_warning(tmp_path):
    path = tmp_path / "hospital.key"
    Key.generate().save(path)
    os.chmod(path, 0o400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Key.from_file(path)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_save_over_a_world_readable_file_makes_it_owner_only(tmp_path):
    path = tmp_path / "k"
    path.write_text("old")
    os.chmod(path, 0o666)
    Key.generate().save(path, overwrite=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

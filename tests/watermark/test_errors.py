"""The error hierarchy: one root, matching builtins, data on every error a user can hit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import watermark
from watermark import (
    ImageError,
    ImageLoadError,
    Key,
    KeyFileError,
    KeyMaterialError,
    LeaktraceError,
    OptionError,
    OptionTypeError,
    PayloadError,
    WatermarkError,
)


def test_every_watermark_error_derives_the_root_and_a_builtin():
    assert issubclass(WatermarkError, LeaktraceError)
    for cls, builtin in [
        (OptionError, ValueError),
        (OptionTypeError, TypeError),
        (KeyMaterialError, ValueError),
        (KeyFileError, OSError),
        (PayloadError, ValueError),
        (ImageError, ValueError),
        (ImageLoadError, OSError),
    ]:
        assert issubclass(cls, WatermarkError) and issubclass(cls, builtin), cls


def test_a_short_key_is_key_material_not_a_file_problem():
    with pytest.raises(KeyMaterialError, match="exactly 32 bytes, got 5 bytes") as info:
        Key(b"short")
    assert not isinstance(info.value, KeyFileError)
    assert info.value.value == "5 bytes"


def test_missing_key_file_names_the_path(tmp_path):
    path = tmp_path / "absent.key"
    with pytest.raises(KeyFileError, match="does not exist") as info:
        Key.from_file(path)
    assert info.value.path == str(path) and info.value.reason == "does not exist"


def test_bad_strength_is_an_option_error_with_its_value():
    key = Key(bytes(32))
    payload = watermark.Payload(viewer_id=1, timestamp=watermark.EARLIEST_TIMESTAMP)
    with pytest.raises(OptionError, match=r"strength must be a number in \(0, 8.0\], got 0") as info:
        watermark.embed(np.zeros((256, 256, 3), np.uint8), payload, key, strength=0)
    assert (info.value.name, info.value.value) == ("strength", 0)


def test_wrong_key_type_is_an_option_type_error():
    with pytest.raises(OptionTypeError, match="key must be a watermark.Key, got str"):
        watermark.extract(np.zeros((256, 256, 3), np.uint8), "secret")  # type: ignore[arg-type]


def test_visible_mark_options_are_option_errors():
    with pytest.raises(OptionError, match=r"opacity must be in \(0, 1\], got 2.0") as info:
        watermark.visible_mark_svg("ID 1", opacity=2.0)
    assert info.value.name == "opacity"


def test_payload_errors_name_the_field():
    with pytest.raises(PayloadError, match="viewer_id must be in 0..4294967295, got -1") as info:
        watermark.Payload(viewer_id=-1, timestamp=watermark.EARLIEST_TIMESTAMP)
    assert (info.value.field, info.value.value) == ("viewer_id", -1)


def test_small_image_error_carries_the_shape():
    with pytest.raises(ImageError, match="at least 256x256") as info:
        watermark.extract(np.zeros((100, 300, 3), np.uint8), Key(bytes(32)))
    assert info.value.shape == (100, 300, 3)


def test_load_error_names_the_file(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ImageLoadError, match="not a recognised image file") as info:
        watermark.load_image(path)
    assert info.value.path == str(path)


def test_errors_survive_pickling_with_their_fields():
    err = pickle.loads(pickle.dumps(KeyFileError("key file 'k' is malformed", path="k", reason="malformed")))
    assert isinstance(err, KeyFileError) and err.path == "k" and str(err) == "key file 'k' is malformed"

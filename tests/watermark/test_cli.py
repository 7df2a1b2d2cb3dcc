from __future__ import annotations

import os
import re
import stat

import numpy as np
import pytest
from PIL import Image

import watermark
from watermark.cli import keygen_main, main


def test_keygen_then_embed_writes_a_marked_png(tmp_path, screen, capsys):
    key_path, src, out = tmp_path / "h.key", tmp_path / "screen.png", tmp_path / "marked.png"
    assert keygen_main([str(key_path)]) == 0
    Image.fromarray(screen).save(src)
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "77", "--time", "2026-05-04T10:11Z"]) == 0
    res = watermark.extract(np.asarray(Image.open(out)), watermark.Key.from_file(key_path))
    assert res.payload is not None and res.payload.viewer_id == 77
    assert res.payload.timestamp.isoformat() == "2026-05-04T10:11:00+00:00"
    assert "viewer 77" in capsys.readouterr().out


def test_keygen_refuses_to_overwrite(tmp_path, capsys):
    key_path = tmp_path / "h.key"
    assert keygen_main([str(key_path)]) == 0
    before = key_path.read_bytes()
    assert keygen_main([str(key_path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert key_path.read_bytes() == before


def test_embed_with_bad_key_file_exits_2_and_writes_nothing(tmp_path, screen, capsys):
    src, out, bad = tmp_path / "s.png", tmp_path / "o.png", tmp_path / "bad.key"
    Image.fromarray(screen).save(src)
    bad.write_text("not a key")
    assert main([str(src), str(out), "--key-file", str(bad), "--viewer-id", "1"]) == 2
    assert "bad.key" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "o.png.partial").exists()


def test_embed_with_corrupt_image_exits_2(tmp_path, capsys):
    key_path, src, out = tmp_path / "h.key", tmp_path / "s.png", tmp_path / "o.png"
    watermark.Key.generate().save(key_path)
    src.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "1"]) == 2
    assert "corrupt or truncated image" in capsys.readouterr().err
    assert not out.exists()


def test_embed_keeps_the_alpha_channel_of_an_rgba_png(tmp_path):
    key_path, src, out = tmp_path / "h.key", tmp_path / "s.png", tmp_path / "o.png"
    watermark.Key.generate().save(key_path)
    rgba = np.full((300, 300, 4), 255, np.uint8)
    rgba[:, :150, 3] = 0  # left half transparent
    Image.fromarray(rgba, "RGBA").save(src)
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "9"]) == 0
    with Image.open(out) as written:
        assert written.mode == "RGBA"
        assert np.array_equal(np.asarray(written)[:, :, 3], rgba[:, :, 3])


def test_embed_refuses_to_overwrite_without_force(tmp_path, capsys):
    key_path, src, out = tmp_path / "h.key", tmp_path / "s.png", tmp_path / "o.png"
    watermark.Key.generate().save(key_path)
    Image.fromarray(np.full((256, 256, 3), 200, np.uint8)).save(src)
    out.write_bytes(b"keep me")
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "1"]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"


def test_embed_with_bad_strength_exits_2_with_the_range(tmp_path, capsys):
    key_path, src, out = tmp_path / "h.key", tmp_path / "s.png", tmp_path / "o.png"
    watermark.Key.generate().save(key_path)
    Image.fromarray(np.full((256, 256, 3), 200, np.uint8)).save(src)
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "1", "--strength", "-2"]) == 2
    assert "strength must be a number in (0, 8.0]" in capsys.readouterr().err
    assert not out.exists()


# ----------------------------------------------------------------- every bad input: one clear line, exit 2
def _key_file(tmp_path):
    key_path = tmp_path / "h.key"
    watermark.Key.generate().save(key_path)
    return key_path


def test_embed_refuses_each_hostile_input_with_one_line_and_exit_2(tmp_path, hostile_input, capsys):
    source, message = hostile_input
    out = tmp_path / "o.png"
    assert main([source, str(out), "--key-file", str(_key_file(tmp_path)), "--viewer-id", "1"]) == 2
    captured = capsys.readouterr()
    assert re.fullmatch(rf"leaktrace-embed: error: .*{message}.*\n", captured.err), captured.err
    assert captured.out == "" and not out.exists()


def test_embed_max_bytes_and_max_pixels_options(tmp_path, capsys):
    key_path, src, out = _key_file(tmp_path), tmp_path / "s.png", tmp_path / "o.png"
    Image.fromarray(np.full((256, 256, 3), 200, np.uint8)).save(src)
    size = src.stat().st_size
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "1", "--max-bytes", str(size - 1)]) == 2
    assert f"{size} bytes is over the limit of {size - 1} bytes" in capsys.readouterr().err
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "1", "--max-pixels", "60000"]) == 2
    assert "65536 pixels is over the limit of 60000" in capsys.readouterr().err
    assert not out.exists()


def test_embed_scales_a_16_bit_png_and_says_it_writes_8_bits(tmp_path, capsys):
    from synthetic.hostile import png_bytes

    key_path, src, out = _key_file(tmp_path), tmp_path / "deep.png", tmp_path / "o.png"
    src.write_bytes(png_bytes(320, 256, bit_depth=16, color_type=0, value=0x7000))
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "3"]) == 0
    with Image.open(out) as written:
        marked = np.asarray(written)
        assert written.mode == "RGB"
    assert abs(float(marked.mean()) - 0x7000 / 65535 * 255) < 1.5  # scaled, not clipped to white
    err = capsys.readouterr().err
    assert re.search(r"leaktrace-embed: note: .*deep\.png has 16 bits per sample; the marked image is written with 8", err)


def test_keygen_on_an_existing_file_names_the_force_flag(tmp_path, capsys):
    key_path = tmp_path / "h.key"
    assert keygen_main([str(key_path)]) == 0
    capsys.readouterr()
    assert keygen_main([str(key_path)]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and "overwrite=True" not in err
    assert keygen_main([str(key_path), "--force"]) == 0


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_keygen_writes_an_owner_only_file_whatever_the_umask(tmp_path):
    key_path = tmp_path / "h.key"
    old = os.umask(0)
    try:
        assert keygen_main([str(key_path)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_embed_warns_on_stderr_about_a_world_readable_key_file(tmp_path, screen, capsys):
    key_path, src, out = _key_file(tmp_path), tmp_path / "s.png", tmp_path / "o.png"
    os.chmod(key_path, 0o644)
    Image.fromarray(screen).save(src)
    assert main([str(src), str(out), "--key-file", str(key_path), "--viewer-id", "1"]) == 0
    err = capsys.readouterr().err
    assert re.fullmatch(r"leaktrace-embed: warning: key file .*h\.key' is readable by group and others .*chmod 600 .*\n", err), err


def test_embed_with_a_key_file_that_is_a_device_exits_2(tmp_path, capsys):
    src, out = tmp_path / "s.png", tmp_path / "o.png"
    Image.fromarray(np.full((256, 256, 3), 200, np.uint8)).save(src)
    assert main([str(src), str(out), "--key-file", "/dev/zero", "--viewer-id", "1"]) == 2
    assert re.fullmatch(r"leaktrace-embed: error: key file '/dev/zero' is a character device, not a regular file\n", capsys.readouterr().err)

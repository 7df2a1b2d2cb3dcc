from __future__ import annotations

import numpy as np
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

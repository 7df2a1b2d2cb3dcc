"""A contact sheet: leaked images side by side, labelled, for reports."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from watermark import OptionError

from ._leak import Leak


def contact_sheet(leaks: Sequence[Leak], path: str | Path, *, thumb: int = 480) -> Path:
    """Write a PNG grid of leaked images labelled with their channel names.

    Parameters
    ----------
    leaks : sequence of Leak
        Leaks to show, in order (row-major).
    path : str or Path
        Output PNG path; parent directories must exist.
    thumb : int
        Size of the square cell each image is fitted into (aspect kept).

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    watermark.OptionError
        (a ``ValueError``) If ``leaks`` is empty or ``thumb`` < 32.
    """
    leaks = list(leaks)
    if not leaks:
        raise OptionError("contact_sheet needs at least one leak, got none", name="leaks", value=[])
    if thumb < 32:
        raise OptionError(f"thumb must be >= 32 pixels, got {thumb}", name="thumb", value=thumb)
    cols = math.ceil(math.sqrt(len(leaks)))
    rows = math.ceil(len(leaks) / cols)
    label_h = max(16, thumb // 20)
    pad = 6
    font = ImageFont.load_default(size=max(10, label_h - 4))
    size = (cols * (thumb + pad) + pad, rows * (thumb + label_h + pad) + pad)
    sheet = Image.new("RGB", size, (40, 40, 40))
    drawer = ImageDraw.Draw(sheet)
    for i, leak in enumerate(leaks):
        r, c = divmod(i, cols)
        x0 = pad + c * (thumb + pad)
        y0 = pad + r * (thumb + label_h + pad)
        img = Image.fromarray(leak.image)
        img.thumbnail((thumb, thumb), Image.Resampling.LANCZOS)
        sheet.paste(img, (x0 + (thumb - img.width) // 2, y0 + label_h + (thumb - img.height) // 2))
        h, w = leak.image.shape[:2]
        drawer.text((x0 + 2, y0 + 1), f"{leak.channel}  {w}x{h}", fill=(255, 255, 255), font=font)
    path = Path(path)
    sheet.save(path, format="PNG")
    return path

"""Checking what a screenshot shows, without an imaging library: the PNG is
decoded by Chromium itself (an <img> drawn on a canvas) and the pixels inside
an element's box are counted."""
from __future__ import annotations

import base64
import struct
from pathlib import Path

from playwright.async_api import Page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_COUNT_INK = """
async ([url, box]) => {
  const img = new Image();
  img.src = url;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(box.x, box.y, box.width, box.height).data;
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (0.3 * data[i] + 0.59 * data[i + 1] + 0.11 * data[i + 2] < 140) ink++;
  }
  return ink;
}
"""


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk; fails on anything but a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


async def ink_in_box(page: Page, png: Path, selector: str) -> int:
    """Dark (text) pixels of ``png`` inside the box ``selector`` has on ``page``
    now; the element must lie wholly inside the viewport."""
    rect = await page.locator(selector).first.bounding_box()
    assert rect is not None, f"{selector} is not displayed"
    viewport = page.viewport_size
    assert viewport is not None
    assert rect["x"] >= 0 and rect["y"] >= 0 and rect["y"] + rect["height"] <= viewport["height"], \
        f"{selector} is not inside the visible area: {rect}"
    box = {"x": int(rect["x"]), "y": int(rect["y"]), "width": int(rect["width"]), "height": int(rect["height"])}
    url = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    ink: int = await page.evaluate(_COUNT_INK, [url, box])
    return ink

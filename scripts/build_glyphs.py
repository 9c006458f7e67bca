"""Glyph PBFs for the web map's labels: ``web/dist/glyphs/{stack}/{start}-{end}.pbf`` (``make glyphs``).

MapLibre draws text from signed-distance-field glyphs in 256-code-point ranges (the Mapbox
``glyphs.proto`` format), fetched from the style's ``glyphs`` URL; the province's names need Basic
Latin and Latin-1 (0–255), Latin Extended-A/B (Ă Đ Ĩ Ũ Ơ Ư: 256–511), combining marks (names typed
decomposed: 768–1023), Latin Extended Additional (ạ ả … ỹ: 7680–7935) and punctuation (– “ ”:
8192–8447). No maintained glyph generator installs here (node-fontnik and build_pbf_glyphs need
native builds or binaries from outside the package registries), so this script does what they do
with the project's own libraries: FreeType (through Pillow) draws each glyph 4× larger, SciPy's
exact Euclidean distance transform gives the signed distance, averaged down to 24 px with a 3 px
border, encoded as MapLibre's decoder reads it (radius 8, cutoff 0.25, as TinySDF and fontnik).

The font is DejaVu Sans (Debian ``fonts-dejavu-core``, the same the PDF reports embed; free licence,
copied beside the glyphs). Run with the project's Python: ``.venv/bin/python scripts/build_glyphs.py``.
"""

from __future__ import annotations

import shutil
import sys
import unicodedata
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import distance_transform_edt

FONTS = Path("/usr/share/fonts/truetype/dejavu")
LICENCE = Path("/usr/share/doc/fonts-dejavu-core/copyright")
OUT = Path(__file__).resolve().parents[1] / "web" / "dist" / "glyphs"
#: font stack name (in the style) → folder, font file
STACKS = {"DejaVu Sans Book": ("dejavu-sans-book", FONTS / "DejaVuSans.ttf")}
RANGES = (0, 256, 768, 7680, 8192)
SIZE, BUFFER, RADIUS, CUTOFF, SCALE = 24, 3, 8.0, 0.25, 4
#: glyph tops are measured from this far above the baseline, as in the glyph sets MapLibre is tuned to
TOP_ORIGIN = 26


# --- a minimal protobuf writer: varints, zigzag, length-delimited fields ------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _uint(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n)


def _sint(field: int, n: int) -> bytes:
    return _uint(field, (n << 1) ^ (n >> 31))


def _bytes(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


# --- glyphs ---------------------------------------------------------------------------------------

def _draw(font: ImageFont.FreeTypeFont, char: str, scale: int) -> tuple[np.ndarray, int, int]:
    """The glyph drawn on a canvas 3 em square, its pen origin at (1 em, 2 em)."""
    em = SIZE * scale
    img = Image.new("L", (3 * em, 3 * em), 0)
    ImageDraw.Draw(img).text((em, 2 * em), char, font=font, fill=255, anchor="ls")
    return np.asarray(img, dtype=np.float32) / 255.0, em, 2 * em


def glyph(code: int, font: ImageFont.FreeTypeFont, big: ImageFont.FreeTypeFont) -> bytes:
    char = chr(code)
    advance = round(font.getlength(char))
    small, ox, oy = _draw(font, char, 1)
    rows, cols = np.nonzero(small > 0)
    fields = _uint(1, code)
    if not len(rows):  # a space: an advance, no bitmap
        return fields + _uint(3, 0) + _uint(4, 0) + _sint(5, 0) + _sint(6, 0) + _uint(7, advance)
    x0, x1, y0, y1 = cols.min(), cols.max() + 1, rows.min(), rows.max() + 1
    hi, _, _ = _draw(big, char, SCALE)
    inside = hi >= 0.5
    # distances in output pixels, positive outside the outline, the edge half a pixel off each centre
    signed = np.where(inside, 0.5 - distance_transform_edt(inside),
                      distance_transform_edt(~inside) - 0.5) / SCALE
    box = signed[(y0 - BUFFER) * SCALE:(y1 + BUFFER) * SCALE, (x0 - BUFFER) * SCALE:(x1 + BUFFER) * SCALE]
    h, w = box.shape[0] // SCALE, box.shape[1] // SCALE
    mean = box.reshape(h, SCALE, w, SCALE).mean(axis=(1, 3))
    bitmap = np.clip(np.round(255 - 255 * (mean / RADIUS + CUTOFF)), 0, 255).astype(np.uint8)
    return (fields + _bytes(2, bitmap.tobytes()) + _uint(3, int(x1 - x0)) + _uint(4, int(y1 - y0))
            + _sint(5, int(x0 - ox)) + _sint(6, int(oy - y0) - TOP_ORIGIN) + _uint(7, advance))


def glyph_range(name: str, path: Path, start: int) -> bytes:
    cmap = TTFont(path).getBestCmap()
    # one glyph at a time, no shaping (MapLibre places each glyph itself)
    font, big = (ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
                 for size in (SIZE, SIZE * SCALE))
    stack = _bytes(1, name.encode()) + _bytes(2, f"{start}-{start + 255}".encode())
    for code in range(start, start + 256):
        # no control, format or line/paragraph separator characters: MapLibre draws them as nothing
        if code in cmap and unicodedata.category(chr(code)) not in ("Cc", "Cf", "Zl", "Zp"):
            stack += _bytes(3, glyph(code, font, big))
    return _bytes(1, stack)


def main() -> int:
    for name, (folder, path) in STACKS.items():
        out = OUT / folder
        out.mkdir(parents=True, exist_ok=True)
        for start in RANGES:
            data = glyph_range(name, path, start)
            (out / f"{start}-{start + 255}.pbf").write_bytes(data)
            print(f"{name} {start}-{start + 255}: {len(data):,} bytes")
    if LICENCE.is_file():
        shutil.copyfile(LICENCE, OUT / "LICENSE-DejaVu.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Draw the PneumoScan app icon with Pillow and write assets/icons/pneumoscan.{png,ico,icns}.

Run from the repository root: `python packaging/make_icons.py`. The output is committed, so builds never
need to run this; it is here so the icon can be changed and regenerated the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parents[1] / "assets" / "icons"
BACKGROUND = (18, 78, 110, 255)  # deep teal-blue
LUNG = (236, 244, 248, 255)
ACCENT = (255, 138, 61, 255)  # the "finding": Grad-CAM orange


def draw(size: int = 1024) -> Image.Image:
    s = size / 1024
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([int(40 * s), int(40 * s), int(984 * s), int(984 * s)], radius=int(200 * s), fill=BACKGROUND)
    # trachea and bronchi
    d.rounded_rectangle([int(488 * s), int(170 * s), int(536 * s), int(470 * s)], radius=int(24 * s), fill=LUNG)
    d.line([(512 * s, 450 * s), (400 * s, 560 * s)], fill=LUNG, width=int(40 * s))
    d.line([(512 * s, 450 * s), (624 * s, 560 * s)], fill=LUNG, width=int(40 * s))
    # lungs: two rounded lobes
    d.ellipse([int(170 * s), int(260 * s), int(450 * s), int(880 * s)], fill=LUNG)
    d.ellipse([int(574 * s), int(260 * s), int(854 * s), int(880 * s)], fill=LUNG)
    # the highlighted region (a soft heat spot on the right lung)
    glow = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    g = ImageDraw.Draw(glow)
    g.ellipse([int(620 * s), int(560 * s), int(800 * s), int(760 * s)], fill=ACCENT)
    glow = glow.filter(ImageFilter.GaussianBlur(max(1, int(28 * s))))
    img.alpha_composite(glow)
    return img


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    big = draw(1024)
    big.resize((512, 512), Image.LANCZOS).save(OUT / "pneumoscan.png")
    big.resize((256, 256), Image.LANCZOS).save(
        OUT / "pneumoscan.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
    )
    big.save(OUT / "pneumoscan.icns")  # Pillow writes the standard icns sizes from the 1024 image
    for name in ("pneumoscan.png", "pneumoscan.ico", "pneumoscan.icns"):
        print(OUT / name, (OUT / name).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

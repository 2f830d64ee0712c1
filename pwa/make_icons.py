"""Draw the app's icons (a white wrench on the brand blue) with Pillow; run once and commit the PNGs.

    python pwa/make_icons.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent / "icons"
BLUE = (21, 101, 192)
WHITE = (255, 255, 255)
SCALE = 4  # draw large, then downsample: smooth edges without an anti-aliasing library


def wrench(size: int, inset: float) -> Image.Image:
    """A square icon; *inset* is the share of each side kept clear (maskable icons need a safe zone)."""
    big = size * SCALE
    image = Image.new("RGB", (big, big), BLUE)
    draw = ImageDraw.Draw(image)
    lo, hi = big * inset, big * (1 - inset)
    span = hi - lo

    def at(x: float, y: float) -> tuple[float, float]:
        return lo + x * span, lo + y * span

    # The handle: a thick bar from the lower left to the head.
    draw.line([at(0.22, 0.78), at(0.62, 0.38)], fill=WHITE, width=int(span * 0.16))
    draw.ellipse([*at(0.14, 0.70), *at(0.30, 0.86)], fill=WHITE)
    # The head: a disc with the jaw cut out of it.
    draw.ellipse([*at(0.48, 0.14), *at(0.86, 0.52)], fill=WHITE)
    # The jaw: a slot from the head's centre outwards, along the handle's axis.
    draw.polygon([at(0.62, 0.28), at(0.72, 0.38), at(0.94, 0.16), at(0.84, 0.06)], fill=BLUE)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    HERE.mkdir(exist_ok=True)
    wrench(192, 0.12).save(HERE / "icon-192.png", optimize=True)
    wrench(512, 0.12).save(HERE / "icon-512.png", optimize=True)
    # Launchers crop maskable icons to a circle: keep the drawing inside the central 60 %.
    wrench(512, 0.22).save(HERE / "icon-maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()

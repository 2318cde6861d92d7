"""Images that are not chest X-rays: natural photographs (scikit-image's samples), uniform and noise
images, CT and MR slices (pydicom's test files). The scope check must call every one "not a chest X-ray";
finalize reports it, and the domain-gate benchmark and tests use the same set.
"""

from __future__ import annotations

import io

import numpy as np

from app.core.io.images import LoadedImage, load_image, load_image_bytes

NATURAL = ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon", "brick", "grass", "hubble_deep_field",
           "immunohistochemistry", "retina", "coins", "clock", "cell")


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def foreign_images() -> dict[str, LoadedImage]:
    """Natural photographs (scikit-image), uniform and noise images, and CT/MR slices (pydicom's test files)."""
    import skimage.data
    from pydicom.data import get_testdata_file

    images = {name: load_image_bytes(_png_bytes(getattr(skimage.data, name)()), f"{name}.png") for name in NATURAL}
    rng = np.random.default_rng(0)
    images["uniform gray"] = load_image_bytes(_png_bytes(np.full((512, 512), 128, np.uint8)), "u.png")
    images["uniform black"] = load_image_bytes(_png_bytes(np.zeros((512, 512), np.uint8)), "b.png")
    images["gaussian noise"] = load_image_bytes(_png_bytes(np.clip(rng.normal(128, 40, (512, 512)), 0, 255).astype(np.uint8)), "n.png")
    images["uniform noise"] = load_image_bytes(_png_bytes(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)), "c.png")
    for name in ("CT_small.dcm", "MR_small.dcm"):
        images[name] = load_image(get_testdata_file(name))
    return images

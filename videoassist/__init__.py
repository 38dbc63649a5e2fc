"""videoassist: self-hosted one-tap video support."""

import os

# OpenCV reads this when it is first imported, wherever that happens: refuse decompression
# bombs in customer photos (about 40 megapixels is more than any phone camera).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(40_000_000))

__version__ = "0.1.0"

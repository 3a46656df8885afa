"""EmoScope: find every face in an image and the probability of each emotion on it.

    >>> import emoscope
    >>> result = emoscope.Analyzer().analyze("photo.jpg")
    >>> [(face.emotion, face.confidence) for face in result.faces]
"""
import os

# OpenCV reads this once, when it loads: refuse decompression bombs before decoding them.
os.environ.setdefault("CV_IO_MAX_IMAGE_PIXELS", str(250_000_000))

from .errors import EmoScopeError, InputError, ModelNotFoundError
from .labels import EMOTIONS
from .pipeline import Analyzer
from .types import Detections, Face, FrameResult, ImageResult

__version__ = "0.1.0"

__all__ = ["Analyzer", "Detections", "EMOTIONS", "EmoScopeError", "Face", "FrameResult", "ImageResult", "InputError",
           "ModelNotFoundError", "__version__"]

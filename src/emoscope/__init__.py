"""EmoScope: find every face in an image and the probability of each emotion on it.

    >>> import emoscope
    >>> result = emoscope.Analyzer().analyze("photo.jpg")
    >>> [(face.emotion, face.confidence) for face in result.faces]
"""
from . import _interrupts  # noqa: F401  (first: a Ctrl-C that the imports below drop is remembered)
from .errors import EmoScopeError, InputError, ModelNotFoundError
from .labels import EMOTIONS
from .pipeline import Analyzer
from .types import Detections, Face, FrameResult, ImageResult

__version__ = "0.1.0"

__all__ = ["Analyzer", "Detections", "EMOTIONS", "EmoScopeError", "Face", "FrameResult", "ImageResult", "InputError",
           "ModelNotFoundError", "__version__"]

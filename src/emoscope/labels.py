"""EmoScope's emotion label order (FER2013's), used by every model and data set mapping."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The seven basic emotions, in FER2013's index order."""

EMOTIONS_WITH_CONTEMPT: tuple[str, ...] = EMOTIONS + ("contempt",)
"""FER+'s eight classes in EmoScope order: the seven above, then contempt."""

# Names that data sets use for our labels (folder names, annotation files).
LABEL_ALIASES: dict[str, str] = {
    "anger": "angry", "angry": "angry", "an": "angry",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "fe": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "ha": "happy",
    "sad": "sad", "sadness": "sad", "sa": "sad",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise",
    "neutral": "neutral", "ne": "neutral", "calm": "neutral",
    "contempt": "contempt",
}


def canonical_label(name: str) -> str | None:
    """Our label for a data set's class name (case-insensitive), or None when unknown."""
    return LABEL_ALIASES.get(name.strip().lower())

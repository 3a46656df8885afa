"""The emotion model's labelled face-crop sets, by split, for benchmarks/model_accuracy.py (test) and
benchmarks/prior_correction.py (validation): one definition, so that both read the same faces.

- ``ferplus``: FER+ majority vote, 7 classes (rows whose top vote is tied, contempt, unknown or not-a-face left out);
- ``fer2013``: FER2013's original single-annotator labels;
- ``expw``: ExpW in-the-wild crops, each face cut from its 112x112 crop by the model's own crop rule around
  the labelled box (``emoscope.data.load_split("expw", ...)``), so it reaches the model framed as in the pipeline.

``val`` is FER2013 PublicTest and ExpW val; ``test`` is FER2013 PrivateTest and ExpW test.
"""
from __future__ import annotations

from _data import DATA, require
from emoscope.data import load_split

FER2013 = DATA / "fer2013" / "fer2013.csv.gz"
VOTES = DATA / "ferplus" / "fer2013new.csv"
EXPW = DATA / "expw"
JAFFE = DATA / "jaffe" / "jaffe_128px_png.zip"

TITLES = {("ferplus", "val"): "FER+ PublicTest, majority, 7 classes", ("fer2013", "val"): "FER2013 PublicTest",
          ("expw", "val"): "ExpW val, crops", ("ferplus", "test"): "FER+ PrivateTest, majority, 7 classes",
          ("fer2013", "test"): "FER2013 PrivateTest", ("expw", "test"): "ExpW test, crops"}


def crop_sets(classifier, split: str) -> dict:
    """name -> FaceDataset of the three crop sets' ``split`` (val or test), in the order above."""
    info = classifier.info
    return {
        "ferplus": load_split("ferplus", require(FER2013), split, votes=require(VOTES), with_contempt=False),
        "fer2013": load_split("fer2013", FER2013, split),
        "expw": load_split("expw", require(EXPW), split, crop=info.crop, size=info.input_size[0]),
    }

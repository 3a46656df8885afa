"""What the server is: alive, which version, which models."""
from fastapi import APIRouter

from ... import __version__
from ..state import State

router = APIRouter()


@router.get("/health")
async def health():  # on the event loop: answers without waiting for a thread-pool thread
    return {"status": "ok", "version": __version__}


@router.get("/api/models")
def models(state: State):
    """The emotion model of photos (``emotion_model``), that of live frames and videos, and the detector."""
    def described(classifier):
        return {"file": classifier.path.name, **classifier.info.metadata}

    return {"emotion_model": described(state.analyzer.photo_classifier),
            "stream_emotion_model": described(state.analyzer.stream_classifier),
            "detector": state.analyzer.detector.name}

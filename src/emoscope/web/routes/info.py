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
    classifier = state.analyzer.classifier
    return {"emotion_model": {"file": classifier.path.name, **classifier.info.metadata},
            "detector": state.analyzer.detector.name}

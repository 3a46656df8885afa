"""The training package's error, in a module of its own so that every training module can raise it
without importing the trainer."""
from ..errors import EmoScopeError


class TrainingError(EmoScopeError):
    """A run that cannot start or continue (e.g. resuming with a different configuration)."""

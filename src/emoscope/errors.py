"""Named errors that every surface turns into one clear line (CLI) or a 4xx JSON body (API)."""


class EmoScopeError(Exception):
    """Base class: the message is meant for the user, as one line."""


class InputError(EmoScopeError):
    """An input that cannot be used: missing path, unreadable or unsupported image, bad argument."""


class ModelNotFoundError(EmoScopeError):
    """A model file that cannot be found or loaded; the message says how to get it."""

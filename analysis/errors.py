"""One error type for every user-facing problem: the UI and the CLI show its message as is."""


class LayerScopeError(ValueError):
    """Bad input or missing resource, with a message that says what to do."""

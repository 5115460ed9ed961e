"""Errors the scoring engine raises; each message fits on one line."""


class ScoringError(Exception):
    """Base class of every error the scoring engine raises on purpose."""


class DataError(ScoringError, ValueError):
    """The input data cannot be used as given (missing target, one class, text in numbers...)."""


class ArtifactError(ScoringError):
    """A saved model directory is incomplete, tampered with or of an unknown format."""


class UnregisteredModel(ArtifactError):
    """The model file is not the one whose hash was registered (refused unopened)."""

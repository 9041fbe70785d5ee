"""Typed errors. Each carries the op (or placeholder) name and the user's creation site."""


class MinigraphError(Exception):
    """Base class for minigraph's own errors."""


class InvalidArgumentError(MinigraphError, ValueError):
    """A value reached an op at run time with shapes or dtypes it cannot take."""


class FailedPreconditionError(MinigraphError, RuntimeError):
    """Something must happen first, e.g. a variable must be initialised before it is read."""


class PlaceholderNotFedError(InvalidArgumentError):
    """A placeholder needed by a fetch was not given a value."""


class DisconnectedInputError(MinigraphError, ValueError):
    """``grad`` was asked for the gradient with respect to an input the cost does not use."""


class ClosedSessionError(MinigraphError, RuntimeError):
    """A closed session was asked to run."""

"""Errors a person can act on: shown to them as they are, never as a stack trace."""


class UserError(Exception):
    """The request cannot be done as asked; the message says why and what would work."""

"""The base of the errors a user can fix (the CLI prints them as one line, exit 2)."""


class TfvaeError(Exception):
    """A problem with the user's input, files or settings, with a message that names it."""

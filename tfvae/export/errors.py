"""Errors of the export package."""

from tfvae.errors import TfvaeError


class ExportError(TfvaeError, ValueError):
    """An export cannot be written as asked (version taken, bad name, no signatures)."""

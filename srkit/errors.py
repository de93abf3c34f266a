"""Errors that the CLI shows to the user as one line, without a traceback."""


class SrkitError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class PluginError(SrkitError):
    """A plugin could not be loaded or registered something invalid."""

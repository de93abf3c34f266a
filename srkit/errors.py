"""Errors that the CLI shows to the user as one line, without a traceback."""


class SrkitError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class PluginError(SrkitError):
    """A plugin could not be loaded or registered something invalid."""


class StoppedBySignal(Exception):
    """A run stopped by SIGINT/SIGTERM/SIGHUP: the CLI prints the message, exits 128 + signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum

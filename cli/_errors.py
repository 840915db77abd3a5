"""The command line's one user-error type and its argument parser."""

import argparse


class UsageError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError` instead of exiting."""

    def error(self, message):
        raise UsageError(message)

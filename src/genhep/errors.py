"""One exception type for every error a user can cause.

Scripts catch :class:`GenhepError`, print its message once and exit non-zero; any other
exception is a bug in genhep and keeps its traceback.
"""


class GenhepError(Exception):
    """A problem with the user's input: a file, a tree, a branch, a config key."""


class Interrupted(Exception):
    """A stage was asked to stop (SIGTERM) and stopped cleanly, e.g. after writing a
    checkpoint a rerun resumes from: the stage exits 143 (128 + SIGTERM), so the batch
    system sees a terminated job."""

"""The scaling layer's errors (torch-free, so the command line can name them without torch)."""


class TrainingError(RuntimeError):
    """Training stopped (a non-finite loss); the message names the step."""


class CheckpointError(TrainingError, ValueError):
    """A checkpoint cannot be trusted or restored (a changed file, a config that differs from
    the run's, a negative step, a dtype that differs, a pointer outside the run directory,
    ...); the message names the file and the problem. A ``TrainingError`` (``nashlab train``
    exits 1) and a ``ValueError`` (bad input)."""

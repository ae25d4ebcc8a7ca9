"""The one exception type for problems a user can fix."""


class PipelineError(Exception):
    """A problem with the user's input or environment, explained in plain words.

    The message names the file, row or field at fault and says what to do.
    The CLI prints it without a traceback and exits with status 1.
    """

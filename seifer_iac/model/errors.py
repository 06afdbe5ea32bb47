"""The one error the model side raises for models SEIFER cannot chain."""


class ModelError(Exception):
    """A model cannot be profiled or split (several inputs/outputs, no cut point, custom layers, unknown
    application, missing file). The message is one line telling the user what is wrong; the CLI prints it
    and exits 2 without a traceback."""

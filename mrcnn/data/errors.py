"""Exceptions raised by the dataset readers.

Every message names the file, the annotation when there is one, and what to do.
"""


class DatasetError(ValueError):
    """A dataset cannot be read as asked.

    `kind` names the problem the way the validation report counts it (for
    example "missing_image" or "size_mismatch"), so that `validate` can file an
    exception raised while loading an image under the right heading.
    """

    def __init__(self, message, kind="invalid_annotation", file=None, annotation=None):
        super().__init__(message)
        self.kind = kind
        self.file = file
        self.annotation = annotation


class UnsafePathError(DatasetError):
    """An annotation file points outside its dataset folder (`../`, absolute, URL)."""

    def __init__(self, message, file=None, annotation=None):
        super().__init__(message, kind="unsafe_path", file=file, annotation=annotation)


class FormatError(DatasetError):
    """The format of a file or folder cannot be recognised or is not supported."""

    def __init__(self, message, file=None):
        super().__init__(message, kind="unknown_format", file=file)


class OptionError(DatasetError, TypeError):
    """An option that the chosen reader does not take (a TypeError too, as
    for any wrong keyword argument)."""

    def __init__(self, message):
        super().__init__(message, kind="invalid_annotation")

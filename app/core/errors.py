"""Error types of the engine: one class per way an input can be unusable, each with a plain message."""

from __future__ import annotations


class PneumoScanError(Exception):
    """Base class of every error the engine raises on purpose; its message is meant for the user."""


class ImageLoadError(PneumoScanError):
    """The file could not be turned into a grayscale image."""


class FileMissingError(ImageLoadError):
    """The path does not exist or is not a regular file."""


class EmptyFileError(ImageLoadError):
    """The file has zero bytes."""


class FileUnreadableError(ImageLoadError):
    """The operating system refused to read the file (permissions, I/O error)."""


class NotAnImageError(ImageLoadError):
    """The bytes are not in any image format the engine reads."""


class CorruptImageError(ImageLoadError):
    """The format was recognised but the data is truncated or damaged."""


class UnsupportedDicomError(ImageLoadError):
    """A DICOM file the engine cannot turn into pixels (no pixel data, compressed without a decoder, ...)."""


class ImageTooSmallError(ImageLoadError):
    """The image is below the smallest side the model can say anything about."""


class ImageTooLargeError(ImageLoadError):
    """The decoded buffer the header declares is above the memory budget (refused before decoding)."""


class UnsupportedFormatError(ImageLoadError):
    """A real image in a format the engine refuses everywhere (GIF, WebP, ...), so predict and scan agree."""


class OutputError(PneumoScanError):
    """An output path that would overwrite an input or an unrelated file, or cannot be written."""


class ModelError(PneumoScanError):
    """The model or its model card is missing, corrupt or does not match."""


def describe_error(exc: BaseException) -> str:
    """The engine's own message for its errors; a short, honest one for anything unexpected."""
    if isinstance(exc, PneumoScanError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Not enough memory to process this image."
    if isinstance(exc, PermissionError):  # a file (or a link into a folder) this user may not read
        return f"Cannot read this file: permission denied ({exc.filename or 'no access'})."
    return f"Unexpected error ({type(exc).__name__}): {exc}"

"""Reading and rewriting the text files steps edit, with errors that name the file."""

from pathlib import Path

from kargo_dagster.errors import RetryableStepError, TerminalStepError


def read_text(path: Path, shown: str) -> str:
    """The file's text, newlines untouched.

    Args:
        path: The resolved file.
        shown: The path as the step's config gave it, for messages.

    Raises:
        TerminalStepError: The file does not exist, is a directory or is not UTF-8.
        RetryableStepError: Reading failed for another reason.
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
        raise TerminalStepError(f"cannot read {shown!r}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise TerminalStepError(f"cannot read {shown!r}: not UTF-8 text") from error
    except OSError as error:
        raise RetryableStepError(f"cannot read {shown!r}: {error.strerror}") from error


def write_text(path: Path, shown: str, text: str) -> None:
    """Replace the file's text, keeping its permissions.

    Raises:
        RetryableStepError: Writing failed.
    """
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as error:
        raise RetryableStepError(f"cannot write {shown!r}: {error.strerror}") from error

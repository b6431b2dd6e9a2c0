"""Running a snippet in a fresh interpreter where one module cannot be imported."""

import subprocess
import sys


def error_without(module: str, setup: str, call: str) -> str:
    """The ``CredentialsError`` message ``call`` raises when ``module`` is not installed.

    ``setup`` imports what ``call`` needs; the snippet runs in a separate interpreter, as on
    a machine where the optional dependency is missing.
    """
    program = "\n".join(
        [
            f"import sys; sys.modules[{module!r}] = None",
            "from kargo_dagster.errors import CredentialsError",
            setup,
            "try:",
            f"    {call}",
            "except CredentialsError as error:",
            "    print(error)",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()

"""Kargo's JSON field names, derived from field names rather than spelled out per model.

Kargo's API types are Go structs whose json tags are the Go field names in lower camel case,
with an initialism at the start written in lower case: ``RepoURL`` is ``repoURL``, ``ID`` is
``id``, ``InsecureSkipTLSVerify`` is ``insecureSkipTLSVerify``. Models that mirror them
(manifests, Freight artifacts, step configs, the values expressions see) take their JSON
names from the two functions here, so an artifact kind's fields are declared once and the
initialisms are known in one place.
"""

import re

__all__ = ["go_json_name", "kargo_json_name"]

# Words Go writes in capitals inside a field name, as far as Kargo's fields use them.
_INITIALISMS = {"id": "ID", "url": "URL", "tls": "TLS"}
# The capitals a Go name starts with, but the one starting the next word (URLPath: "URL").
_LEADING_CAPITALS = re.compile(r"^[A-Z]+(?=[A-Z][a-z])|^[A-Z]+")


def go_json_name(go_name: str) -> str:
    """The json tag Kargo gives the Go field ``go_name``.

    Examples:
        >>> [go_json_name(n) for n in ("RepoURL", "ID", "CreatedAt", "URLPath")]
        ['repoURL', 'id', 'createdAt', 'urlPath']
    """
    return _LEADING_CAPITALS.sub(lambda match: match.group().lower(), go_name, count=1)


def kargo_json_name(field_name: str) -> str:
    """The JSON name of the snake_case field ``field_name`` (a pydantic alias generator).

    Examples:
        >>> names = ("repo_url", "id", "subscription_name", "insecure_skip_tls_verify")
        >>> [kargo_json_name(n) for n in names]
        ['repoURL', 'id', 'subscriptionName', 'insecureSkipTLSVerify']
    """
    words = field_name.split("_")
    return go_json_name("".join(_INITIALISMS.get(word, word.capitalize()) for word in words))

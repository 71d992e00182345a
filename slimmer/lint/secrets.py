"""secret-in-env: a password, token or key written into an ENV value or an ARG default.

  1. the name says secret (is_secret_name): a word like PASSWORD, TOKEN, SECRET, or a pair
     like API_KEY, unless its last word says it only points at one (_FILE, _PATH, _URL, ...);
  2. the value is a literal: with $VAR and ${VAR} taken out something is left, and it is
     not a switch (yes, no, true, false, on, off, 0, 1, none, null);
  3. the message never repeats the value.
"""
from __future__ import annotations

import re

from .parse import assignments
from .rule import Rule, finding

SECRET_IN_ENV = Rule(
    "secret-in-env", (), "error",
    "ENV values and ARG defaults are stored in the image config and history: anyone who can pull the "
    "image can read them",
    "RUN --mount=type=secret,id=NAME for build-time secrets; pass runtime secrets with docker run -e or "
    "a *_FILE variable")
RULES = (SECRET_IN_ENV,)

_SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIALS", "CREDENTIAL", "PRIVATEKEY"}
_SECRET_PAIRS = {("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY"), ("AUTH", "KEY")}
_NOT_A_SECRET_SUFFIX = {"FILE", "PATH", "DIR", "URL", "URI", "NAME", "ENDPOINT", "HOST", "PORT", "TTL",
                        "LENGTH", "TIMEOUT", "EXPIRY", "HEADER", "TYPE", "ID", "USER", "USERNAME", "ENABLED"}
_NOT_A_SECRET_VALUE = re.compile(r"(?i)yes|no|true|false|on|off|0|1|none|null")


def is_secret_name(name: str) -> bool:
    """DB_PASSWORD, GITHUB_TOKEN, API_KEY: yes. TOKENIZERS_PARALLELISM, POSTGRES_PASSWORD_FILE: no."""
    parts = [part for part in re.split(r"[_\-.]+", name.upper()) if part]
    if not parts or parts[-1] in _NOT_A_SECRET_SUFFIX:
        return False
    if any(part in _SECRET_WORDS for part in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(parts, parts[1:]))


def secret_in_env(instructions):
    for instruction in instructions:
        if instruction.keyword not in ("ENV", "ARG"):
            continue
        for name, value in assignments(instruction.args, arg=instruction.keyword == "ARG"):
            if value is None or not is_secret_name(name):
                continue
            literal = re.sub(r"\$\{[^}]*\}|\$\w+", "", value).strip()
            if not literal or _NOT_A_SECRET_VALUE.fullmatch(literal):
                continue
            where = "a default value" if instruction.keyword == "ARG" else "a value"
            yield finding(SECRET_IN_ENV, instruction,
                          f"{instruction.keyword} {name} has {where} written in the Dockerfile; it is kept in "
                          f"the image {'history' if instruction.keyword == 'ARG' else 'config'} for anyone to "
                          f"read (the value is not repeated here)", at=name)


CHECKS = (secret_in_env,)

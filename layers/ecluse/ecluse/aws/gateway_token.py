"""The customs gateway's bearer token, from an SSM SecureString parameter: asked on every call to customs,
cached five minutes by Powertools, and read afresh after a 401 (a rotation)."""

from __future__ import annotations

from collections.abc import Callable


def token_source(parameter_name: str) -> Callable[[bool], str | None]:
    def token(refresh: bool) -> str | None:
        if not parameter_name:
            return None
        from aws_lambda_powertools.utilities import parameters  # only where a token is configured

        return parameters.get_parameter(parameter_name, decrypt=True, max_age=300, force_fetch=refresh)

    return token

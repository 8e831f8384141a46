"""The API function's settings."""

from __future__ import annotations

from pydantic import Field

from ecluse.config.common import CommonSettings


class ApiSettings(CommonSettings):
    # IAM auth: the principals (role or user ARNs, comma-separated) that are operators and reach every
    # declaration; every other signer is an ERP reaching its own (decision 16)
    operator_principal_arns: str = Field(default="", alias="OPERATOR_PRINCIPAL_ARNS")

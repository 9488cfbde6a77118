"""Integration secrets in SSM Parameter Store, as SecureString: one parameter per project and integration,
`<prefix>/integrations/<project>/<kind>`. Written by the API, read where a secret is used; never returned."""

from __future__ import annotations

import contextlib
from typing import Any


class SecretStore:
    def __init__(self, ssm: Any, prefix: str) -> None:
        self._ssm = ssm
        self._prefix = prefix.rstrip("/")

    def name(self, project_id: str, kind: str) -> str:
        return f"{self._prefix}/integrations/{project_id}/{kind}"

    def put(self, project_id: str, kind: str, value: str) -> None:
        self._ssm.put_parameter(Name=self.name(project_id, kind), Value=value, Type="SecureString", Overwrite=True)

    def get(self, project_id: str, kind: str) -> str | None:
        try:
            response = self._ssm.get_parameter(Name=self.name(project_id, kind), WithDecryption=True)
        except self._ssm.exceptions.ParameterNotFound:
            return None
        value: str = response["Parameter"]["Value"]
        return value

    def delete(self, project_id: str, kind: str) -> None:
        with contextlib.suppress(self._ssm.exceptions.ParameterNotFound):
            self._ssm.delete_parameter(Name=self.name(project_id, kind))

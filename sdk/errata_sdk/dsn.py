"""The DSN: `{scheme}://{public_key}@{host}{path}/{project_id}`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Dsn:
    scheme: str
    public_key: str
    host: str
    path: str
    project_id: str

    @classmethod
    def parse(cls, dsn: str) -> Dsn:
        parts = urlsplit(dsn)
        if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname:
            raise ValueError("a DSN looks like https://<key>@<host>/<project>")
        path, _, project_id = parts.path.rpartition("/")
        if not project_id:
            raise ValueError("the DSN has no project id")
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return cls(parts.scheme, parts.username, host, path, project_id)

    @property
    def envelope_url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}/api/{self.project_id}/envelope/"

    def auth_header(self, client: str) -> str:
        return f"Sentry sentry_key={self.public_key}, sentry_version=7, sentry_client={client}"

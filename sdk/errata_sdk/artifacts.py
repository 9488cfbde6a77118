"""Uploads a build's source maps and minified files (or a ProGuard mapping) for a release, from a build
pipeline: the Errata API hands out presigned S3 URLs and the files go straight to S3, so no AWS credentials
are needed. Standard library only, like the rest of the SDK.

    errata sourcemaps upload --api https://errata.example.com --token $ERRATA_TOKEN \\
        --project 42 --release shop@1.4.0 --url-prefix '~/static/js' dist/
    errata proguard upload --project 42 --release shop@1.4.0 [--uuid U] build/mapping.txt

(also `python -m errata_sdk.artifacts ...`; --api and --token default to ERRATA_API and ERRATA_TOKEN.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE_SUFFIXES = (".js", ".mjs", ".cjs")
MAP_SUFFIX = ".map"
PLAN_BATCH = 20  # URLs are valid 15 minutes: ask for a few at a time, upload them, ask again
_DEBUG_ID = re.compile(rb"//# debugId=([0-9a-fA-F-]{32,36})\s*$", re.MULTILINE)
PROGUARD_NAME = "proguard/mapping.txt"


class UploadError(Exception):
    """What went wrong, worded for a build log."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    name: str
    kind: str
    size: int
    debug_id: str | None

    def as_request(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "size": self.size, "kind": self.kind}
        if self.debug_id:
            body["debug_id"] = self.debug_id
        return body


def _debug_id(path: Path, kind: str) -> str | None:
    if kind == "source_map":
        try:
            document = json.loads(path.read_bytes())
        except ValueError:
            return None
        value = document.get("debug_id") or document.get("debugId") if isinstance(document, dict) else None
        return value if isinstance(value, str) else None
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        found = _DEBUG_ID.findall(handle.read())
    return found[-1].decode() if found else None


def find_source_artifacts(directory: Path, url_prefix: str = "~/") -> list[Artifact]:
    """Minified files and maps under `directory`, named `<url prefix><path relative to directory>`."""
    prefix = url_prefix if url_prefix.endswith("/") else url_prefix + "/"
    found = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.name.endswith(MAP_SUFFIX):
            kind = "source_map"
        elif path.name.endswith(SOURCE_SUFFIXES):
            kind = "minified_source"
        else:
            continue
        name = prefix + path.relative_to(directory).as_posix()
        found.append(Artifact(path, name, kind, path.stat().st_size, _debug_id(path, kind)))
    return found


def _batches(items: list[Artifact], size: int) -> Iterator[list[Artifact]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the bearer token to another host: it is an error instead."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise UploadError(f"{req.get_method()} {req.full_url.split('?', 1)[0]} redirected to {newurl}: refused")


_OPENER = urllib.request.build_opener(_NoRedirects)


def _request(method: str, url: str, body: bytes, headers: dict[str, str], timeout: float = 60) -> bytes:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - checked
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        raise UploadError(f"{method} {url.split('?', 1)[0]} answered {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise UploadError(f"{method} {url.split('?', 1)[0]} failed: {exc.reason}") from None


def upload(api: str, token: str, project: str, release: str, artifacts: list[Artifact]) -> int:
    """Uploads every artifact; returns the number of PUTs (a file with a debug ID goes twice)."""
    if not artifacts:
        raise UploadError("nothing to upload")
    if not api.startswith(("http://", "https://")):
        raise UploadError(f"--api must be an http(s) URL, got {api!r}")
    endpoint = (
        f"{api.rstrip('/')}/api/projects/{urllib.parse.quote(project, safe='')}"
        f"/releases/{urllib.parse.quote(release, safe='')}/artifacts"
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    puts = 0
    for batch in _batches(artifacts, PLAN_BATCH):
        body = json.dumps({"files": [a.as_request() for a in batch]}).encode()
        by_name = {a.name: a for a in batch}
        try:
            plan = json.loads(_request("POST", endpoint, body, headers))
            slots = [(by_name[slot["name"]], slot) for slot in plan["uploads"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise UploadError(f"the API's answer is not an upload plan: {exc!r}") from None
        for artifact, slot in slots:
            _check_slot(slot, api)
            _request("PUT", slot["url"], artifact.path.read_bytes(), dict(slot["headers"]), timeout=300)
            puts += 1
    return puts


def _check_slot(slot: dict[str, Any], api: str) -> None:
    """Uploads go where the API says, but only by PUT over https (http only when the API itself is plain
    http, as `make dev` is on localhost), and never with our token."""
    url = slot.get("url")
    scheme = urllib.parse.urlparse(url).scheme if isinstance(url, str) else ""
    allowed = {"https"} if api.startswith("https://") else {"https", "http"}
    if slot.get("method") != "PUT" or scheme not in allowed:
        raise UploadError(f"refusing upload slot {slot.get('method')} {str(url)[:80]}: expected PUT over {allowed}")
    if any(name.lower() == "authorization" for name in slot.get("headers", {})):
        raise UploadError("refusing an upload slot that asks for an Authorization header")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", default=os.environ.get("ERRATA_API"), help="Errata base URL (ERRATA_API)")
    parser.add_argument("--token", default=os.environ.get("ERRATA_TOKEN"), help="API token (ERRATA_TOKEN)")
    parser.add_argument("--project", required=True)
    parser.add_argument("--release", required=True)


def add_commands(commands: Any) -> None:
    """Adds `sourcemaps upload` and `proguard upload` to an argparse subparsers object."""
    sourcemaps = commands.add_parser("sourcemaps", help="upload source maps and minified files for a release")
    sourcemap_commands = sourcemaps.add_subparsers(dest="action", required=True)
    upload_maps = sourcemap_commands.add_parser("upload", help="upload a build directory's .js and .map files")
    _common(upload_maps)
    upload_maps.add_argument("--url-prefix", default="~/", help="prefix of the files' URLs or paths (default ~/)")
    upload_maps.add_argument("directory", type=Path)
    upload_maps.set_defaults(run=_upload_sourcemaps)

    proguard = commands.add_parser("proguard", help="upload a ProGuard/R8 mapping for a release")
    proguard_commands = proguard.add_subparsers(dest="action", required=True)
    upload_mapping = proguard_commands.add_parser("upload", help="upload mapping.txt")
    _common(upload_mapping)
    upload_mapping.add_argument("--uuid", help="the mapping's UUID, when the app reports it in debug_meta")
    upload_mapping.add_argument("mapping", type=Path)
    upload_mapping.set_defaults(run=_upload_proguard)


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    if not args.api or not args.token:
        raise UploadError("--api and --token (or ERRATA_API and ERRATA_TOKEN) are required")
    return str(args.api), str(args.token)


def _upload_sourcemaps(args: argparse.Namespace) -> int:
    api, token = _credentials(args)
    if not args.directory.is_dir():
        raise UploadError(f"{args.directory} is not a directory")
    artifacts = find_source_artifacts(args.directory, args.url_prefix)
    puts = upload(api, token, args.project, args.release, artifacts)
    total = sum(a.size for a in artifacts)
    print(f"uploaded {len(artifacts)} files ({total / 1e6:.2f} MB, {puts} uploads) to release {args.release}:")
    for artifact in artifacts:
        marker = f"  debug id {artifact.debug_id}" if artifact.debug_id else ""
        print(f"  {artifact.name}  {artifact.kind}  {artifact.size} bytes{marker}")
    return 0


def _upload_proguard(args: argparse.Namespace) -> int:
    api, token = _credentials(args)
    if not args.mapping.is_file():
        raise UploadError(f"{args.mapping} is not a file")
    artifact = Artifact(args.mapping, PROGUARD_NAME, "proguard", args.mapping.stat().st_size, args.uuid)
    upload(api, token, args.project, args.release, [artifact])
    print(f"uploaded {args.mapping} ({artifact.size} bytes) as the ProGuard mapping of release {args.release}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args))
    except UploadError as exc:
        print(f"errata: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="errata", description="Upload release artifacts to Errata.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_commands(commands)
    from errata_sdk import difs  # it builds on this module's HTTP helpers

    difs.add_commands(commands)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

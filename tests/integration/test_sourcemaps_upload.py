"""`errata sourcemaps upload` against the local stack: presigned S3 URLs from the API, the files PUT straight
to S3 (moto), then a minified Node crash shows its original file, line and function in the API, and two
releases minified differently are one issue."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from errata_local.cli import main as errata
from errata_local.demo import node_crash_event
from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration
MAPS = Path(__file__).parents[1] / "fixtures" / "sourcemaps"


def _upload(project: TestProject, release: str, directory: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = errata(
        [
            "sourcemaps",
            "upload",
            "--api",
            project.base_url,
            "--token",
            project.api_token,
            "--project",
            project.project_id,
            "--release",
            release,
            str(directory),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _crash(release: str, directory: str, scenario: str) -> dict[str, Any]:
    return node_crash_event(json.loads((MAPS / directory / f"{scenario}.frames.json").read_text()), release)


def test_uploaded_maps_resolve_a_minified_node_crash_and_releases_group_together(
    project: TestProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for release in ("1.0.0", "1.0.1"):
        build = tmp_path / release
        build.mkdir()
        for name in ("app.min.js", "app.min.js.map"):
            (build / name).write_bytes((MAPS / f"dist-{release}" / name).read_bytes())
        out = _upload(project, release, build, capsys)
        assert "uploaded 2 files" in out
    listed = project.api("/releases/1.0.0/artifacts").json()
    assert {a["name"] for a in listed["artifacts"]} == {"~/app.min.js", "~/app.min.js.map"}
    first = project.api("/releases/1.0.0/artifacts", limit=1).json()
    rest = project.api("/releases/1.0.0/artifacts", limit=1, cursor=first["next_cursor"]).json()
    assert [a["name"] for a in first["artifacts"] + rest["artifacts"]] == ["~/app.min.js", "~/app.min.js.map"]
    assert rest["next_cursor"] is None
    assert project.api("/releases/1.0.0/artifacts", cursor="not-a-token").status_code == 400

    project.store(_crash("1.0.0", "dist-1.0.0", "class_method"))
    project.store(_crash("1.0.1", "dist-1.0.1", "class_method"))

    def one_issue_of_two() -> list[dict[str, Any]] | None:
        issues = project.issues()
        return issues if sum(i["count"] for i in issues) == 2 else None

    issues = wait_for(one_issue_of_two)
    assert len(issues) == 1, "two minifications of one source are one issue"
    event = project.api(f"/issues/{issues[0]['id']}").json()["event"]
    crash = event["exception"]["values"][0]["stacktrace"]["frames"][-1]
    assert crash["filename"] == "src/service.js"
    assert crash["lineno"] in (17, 20)  # 1.0.1 has three comment lines more at the top of service.js
    assert crash["function"].endswith(".validate")
    assert "has no items" in crash["context_line"]
    assert crash["data"]["minified"]["abs_path"].endswith("/dist/app.min.js")


def test_a_release_missing_its_map_keeps_the_frames_and_says_why(
    project: TestProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app.min.js").write_bytes((MAPS / "dist-1.0.0" / "app.min.js").read_bytes())
    _upload(project, "2.0.0", tmp_path, capsys)
    project.store(_crash("2.0.0", "dist-1.0.0", "class_method"))
    issue = wait_for(lambda: project.issues() or None)[0]
    event = project.api(f"/issues/{issue['id']}").json()["event"]
    assert event["exception"]["values"][0]["stacktrace"]["frames"][-1]["function"] == "o.validate"
    assert event["errors"][0]["type"] == "js_missing_source_map"


def test_upload_errors_are_clear(project: TestProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.min.js").write_text("x")
    args = ["sourcemaps", "upload", "--api", project.base_url, "--project", project.project_id, "--release", "1"]
    assert errata([*args, "--token", "wrong", str(tmp_path)]) == 1
    assert "401" in capsys.readouterr().err
    assert errata([*args, "--token", project.api_token, str(tmp_path / "nope")]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_a_proguard_mapping_uploaded_by_the_cli_deobfuscates_a_java_crash(
    project: TestProject, capsys: pytest.CaptureFixture[str]
) -> None:
    fixtures = Path(__file__).parents[1] / "fixtures" / "proguard"
    code = errata(
        [
            "proguard",
            "upload",
            "--api",
            project.base_url,
            "--token",
            project.api_token,
            "--project",
            project.project_id,
            "--release",
            "billing@1.0",
            str(fixtures / "mapping.txt"),
        ]
    )
    assert code == 0, capsys.readouterr()
    # The app logged its obfuscated trace; the processor parses it, then deobfuscates it.
    text = (fixtures / "obfuscated.stack.txt").read_text()
    project.store({"event_id": uuid.uuid4().hex, "platform": "java", "release": "billing@1.0", "message": text})
    issue = wait_for(lambda: project.issues() or None)[0]
    event = project.api(f"/issues/{issue['id']}").json()["event"]
    cause = event["exception"]["values"][0]
    assert [(f["module"], f["function"]) for f in cause["stacktrace"]["frames"]][-3:] == [
        ("com.example.billing.InvoiceService", "lineTotal"),
        ("com.example.billing.TaxCalculator", "gross"),
        ("com.example.billing.TaxCalculator", "net"),
    ]
    assert issue["culprit"] == "com.example.billing.TaxCalculator in net"

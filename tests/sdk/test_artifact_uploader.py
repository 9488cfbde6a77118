"""The uploader refuses what a hostile or broken API could make it do."""

from __future__ import annotations

import pytest
from errata_sdk.artifacts import UploadError, _check_slot


@pytest.mark.parametrize(
    ("slot", "api"),
    [
        ({"method": "PUT", "url": "file:///etc/passwd", "headers": {}}, "https://errata.example.com"),
        ({"method": "PUT", "url": "http://169.254.169.254/latest", "headers": {}}, "https://errata.example.com"),
        ({"method": "POST", "url": "https://bucket.s3.amazonaws.com/x", "headers": {}}, "https://errata.example.com"),
        ({"method": "PUT", "url": "https://x/y", "headers": {"Authorization": "Bearer t"}}, "https://e.example.com"),
    ],
)
def test_upload_slots_that_are_not_a_plain_put_over_https_are_refused(slot: dict[str, object], api: str) -> None:
    with pytest.raises(UploadError):
        _check_slot(slot, api)


def test_a_local_http_api_may_hand_out_http_upload_urls() -> None:
    _check_slot(
        {"method": "PUT", "url": "http://127.0.0.1:5000/bucket/key?X-Amz-Signature=x", "headers": {}},
        "http://127.0.0.1:8000",
    )

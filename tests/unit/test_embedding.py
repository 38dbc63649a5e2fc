"""Embedding origins: what an admin may list, as a browser names a site."""

from __future__ import annotations

import pytest

from videoassist.embedding import OriginError, Origins, normalize_origin


@pytest.mark.parametrize(
    ("typed", "origin"),
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://127.0.0.2:8081/", "http://127.0.0.2:8081"),
        ("  https://a-b.example  ", "https://a-b.example"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_an_origin_is_kept_as_a_browser_sends_it(typed: str, origin: str) -> None:
    assert normalize_origin(typed) == origin


@pytest.mark.parametrize(
    "typed",
    [
        "ftp://x.example",
        "https://*.example.com",
        "https://x.example/path",
        "https://user@x.example",
        "https://x.example?a=1",
        "https://x.example#top",
        "javascript:alert(1)",
        "https://",
        "https://a_b.example",
        "https://x.example:99999",
        "x.example",
        "https://" + "a" * 200 + ".example",
    ],
)
def test_anything_else_is_refused(typed: str) -> None:
    with pytest.raises(OriginError):
        normalize_origin(typed)


def test_fixed_and_managed_are_allowed_alike_and_managed_ones_change() -> None:
    origins = Origins(["https://fixed.example"])
    origins.replace(["https://shop.example:8443"])
    assert "https://fixed.example" in origins and "https://shop.example:8443" in origins
    assert origins.hosts() == {"fixed.example", "shop.example:8443"}
    origins.replace([])
    assert "https://shop.example:8443" not in origins and "https://fixed.example" in origins

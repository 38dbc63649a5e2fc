"""The OpenAPI document against the running server, by schemathesis: requests drawn from
docs/openapi.yaml go to every operation as an admin, and every answer must be one the document
describes (status, content type, body schema, headers), with no 5xx; valid requests must not be
refused. So the document and the server cannot drift apart.

Offline and bounded: the document is read from disk, the server is the test harness on
loopback, Hypothesis draws ``EXAMPLES`` cases per operation with no example database, and the
whole run stays under a minute. schemathesis is synchronous (requests), so it runs in a thread
while the server serves on the test's event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.harness import Harness

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
EXAMPLES = 12
# Valid-looking requests that the server refuses for reasons a schema cannot say (a topic or
# queue that does not exist, a configuration that routes nowhere) are not drift; the refusals
# the document can express are checked in test_admin.py and test_openapi.py.
EXCLUDED = [positive_data_acceptance]
# Would log the fuzzer's admin out, and every later operation would be answered 401 only.
ENDS_THE_SESSION = {"POST /api/logout"}
# Taps and logins are limited per address, which a fuzzer on one address hits at once; the
# limits have tests of their own.
UNLIMITED = {
    "taps_burst": 100_000,
    "taps_per_minute": 100_000.0,
    "login_address_max_failures": 100_000,
    "login_max_failures": 100_000,
    "login_account_max_failures": 100_000,
}


def fuzz(base_url: str, cookie: str) -> list[str]:
    schema = schemathesis.openapi.from_path(str(SPEC))
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label in ENDS_THE_SESSION:
                continue

            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case: Any) -> None:
                response = case.call(
                    base_url=base_url, session=session, cookies={"va_session": cookie}
                )
                case.validate_response(response, excluded_checks=EXCLUDED)

            try:
                check()
            except (Exception, FailureGroup) as failure:
                failures.append(f"{operation.label}: {failure}")
    return failures


@pytest.mark.timeout(120)
@pytest.mark.settings(**UNLIMITED)
async def test_the_server_answers_as_its_openapi_document_says(harness: Harness) -> None:
    cookie = await harness.add_staff("root", role="admin")
    failures = await asyncio.to_thread(fuzz, harness.url, cookie)
    assert not failures, "\n\n".join(failures)

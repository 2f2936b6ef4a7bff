"""schemathesis against the live OpenAPI schema of a running server on tiny models: no 5xx, and every response
matches the schema (bounded example count so CI stays short). Driven through Hypothesis directly: schemathesis'
pytest plugin does not run under pytest 9."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_every_operation_fuzzed(live_server):
    url = live_server
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {"POST /summarize", "POST /translate"}
    calls = 0
    for operation in operations:

        @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case):
            nonlocal calls
            calls += 1
            case.call_and_validate(base_url=url, checks=CHECKS, timeout=120)

        fuzz()
    assert calls >= 3 * len(operations)

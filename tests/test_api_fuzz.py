"""Property-based fuzzing of the whole OpenAPI schema with schemathesis.

Every operation of /openapi.json gets schema-valid (positive) and
schema-violating (negative) requests, sent in process through the ASGI app.
Half of the generated path parameters are swapped for real ones (the bundle's
id and array files), so that the fuzzer also reaches the code behind a
successful look-up rather than only the 404s. Every response must be no 5xx,
with a status, content type, headers and body that the schema documents.
Hypothesis is derandomized: the same requests on every run.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tilting.backend.app import create_app
from tilting.precompute.artifacts import read_bundle, write_bundle
from tilting.precompute.toy import EXPERIMENT_ID as TOY_ID
from tilting.precompute.toy import build_toy_experiment

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 150, GenerationMode.NEGATIVE: 75}
MIN_REQUESTS = 1000


@pytest.fixture(scope="module")
def bundles(small_bundle, tmp_path_factory):
    """The small MNIST bundle (linked, it is shared) and the toy figure's bundle, in one folder."""
    root = tmp_path_factory.mktemp("fuzz-artifacts")
    os.symlink(small_bundle.path.resolve(), root / small_bundle.id)
    toy = read_bundle(write_bundle(root, TOY_ID, *build_toy_experiment()))
    return root, [small_bundle, toy]


@pytest.fixture(scope="module")
def schema(bundles, tmp_path_factory):
    frontend = tmp_path_factory.mktemp("frontend")
    (frontend / "index.html").write_text("<!doctype html><title>t</title>")
    app = create_app(bundles[0], frontend_dir=frontend)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _real_files(bundles) -> list[str]:
    files = []
    for bundle in bundles:
        for name, array in bundle.arrays.items():
            files += [f"{name}.bin", f"{name}.json"] + ([f"{name}.f16.bin"] if array.dtype.kind == "f" else [])
    return files


@pytest.mark.slow
def test_fuzz_whole_schema(schema, bundles):
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7, [op.label for op in operations]
    small_bundle, toy = bundles[1]
    versions = [entry["sha256"][:16] for b in bundles[1] for entry in b.manifest["arrays"].values()]
    real_ids = {"exp_id": st.just(small_bundle.id), "fig_id": st.just(toy.id),
                "file": st.sampled_from(_real_files(bundles[1])), "v": st.sampled_from([None, *versions]),
                "k": st.integers(-1, len(small_bundle.manifest["models"])),
                "index": st.integers(-1, len(small_bundle.arrays["gallery_y"]))}
    sent, failures = {}, []

    for operation in operations:
        for mode, examples in EXAMPLES.items():
            key = f"{operation.label} [{mode.value}]"
            sent[key] = 0

            @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans(), data=st.data())
            @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            def run(case, real, data):
                if real and case.path_parameters:
                    for name in case.path_parameters:
                        if name in real_ids:
                            case.path_parameters[name] = data.draw(real_ids[name])
                case.call_and_validate(checks=CHECKS)
                sent[key] += 1

            try:
                run()
            except Unsatisfiable:
                # Nothing in this operation's schema can be violated (no parameters,
                # or only free-form strings): there is no negative request to send.
                if mode is not GenerationMode.NEGATIVE:
                    raise
            except (Exception, BaseExceptionGroup) as failure:  # report every operation's failures, not just the first
                failures.append(f"{key}:\n{failure}")

    total = sum(sent.values())
    print(f"schemathesis: {total} requests", sent)
    assert not failures, "\n\n".join(failures)
    assert total >= MIN_REQUESTS, sent

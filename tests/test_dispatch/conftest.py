"""The engineers' fixtures (round-the-clock engineers, requests, a dispatcher), shared: dispatch tests them
against each other."""

from tests.test_engineers.conftest import (  # noqa: F401  (fixtures, found by pytest under these names)
    assign,
    dispatcher,
    engineer_factory,
    problem_type,
    request_factory,
)

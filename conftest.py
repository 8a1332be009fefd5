"""Shared test set-up: the reference folder and a real `sevis-mock serve` over mutual TLS."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Hypothesis: a derandomized profile for CI, the default locally, a thorough one on request.
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.register_profile("thorough", deadline=None, max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

pytest_plugins = ["tests.support.server", "tests.support.postgres", "tests.support.markers", "tests.support.schedule"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sevis_reference: compares with ICE's official files (SEVIS_REFERENCE=DIR; skipped when absent)"
    )
    # sevis_mock.harness.pytest_plugin is loaded by its pytest11 entry point once the project is installed; a run
    # from a source tree without that (or with plugin autoload disabled) gets it here, never twice.
    import sevis_mock.harness.pytest_plugin as sevis_plugin

    if not config.pluginmanager.is_registered(sevis_plugin) and not config.pluginmanager.has_plugin("sevis_mock"):
        config.pluginmanager.register(sevis_plugin, "sevis_mock")


def pytest_runtest_setup(item):
    # one place skips (or, under CI=true, fails) every comparison with ICE's files when they are absent, so the
    # summary counts them on one line with one reason
    if item.get_closest_marker("sevis_reference") is not None:
        from tests.support.reference import require

        require()

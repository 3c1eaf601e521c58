"""Lets `pytest --markdown-docs README.md` (part of `make test`) run the README's code blocks
against a local PostHog Endpoints server: see tests/docs/readme_env.py."""

pytest_plugins = ["tests.docs.readme_env"]

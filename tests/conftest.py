"""Shared fixtures: Accord's own tests use the fixtures of ``accord.testing`` (loaded through
its pytest11 entry point), exactly as a partner's add-on does."""

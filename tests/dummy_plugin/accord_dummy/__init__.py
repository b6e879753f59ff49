"""A partner's add-on in miniature: it implements every kernel hook, so the test suite proves
that a package outside the repository can do everything a built-in plugin does."""

from accord.api import Plugin

plugin = Plugin(
    name="dummy",
    version="1.0.0",
    summary="Notes on customers: the add-on that exercises every hook",
    package=__name__,
)

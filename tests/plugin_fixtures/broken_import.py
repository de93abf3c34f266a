"""A plugin whose import fails, as when a dependency is missing."""

import srkit_missing_dependency  # noqa: F401

SRKIT_PLUGIN_API = 4

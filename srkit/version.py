"""Version numbers: of the package, and of the plugin contract plugins declare they follow."""

__version__ = "0.1.0"

# Bump when the names of srkit.api, hookspecs.py or interfaces.py change incompatibly (2: srkit.api
# became the plugin surface; recipes prepare their own batch targets). A plugin module declares
# ``SRKIT_PLUGIN_API = <int>``; a different value is refused at load time with a clear message.
PLUGIN_API_VERSION = 2

"""Version numbers: of the package, and of the plugin contract plugins declare they follow."""

__version__ = "0.1.0"

# Bump when hookspecs.py or interfaces.py change incompatibly. A plugin module declares
# ``SRKIT_PLUGIN_API = <int>``; a different value is refused at load time with a clear message.
PLUGIN_API_VERSION = 1

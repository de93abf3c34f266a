"""Version numbers: of the package, and of the plugin contract plugins declare they follow."""

__version__ = "0.1.0"

# Bump when the names of srkit.api, hookspecs.py or interfaces.py change (2: srkit.api
# became the plugin surface; recipes prepare their own batch targets; 3: generators declare
# GeneratorFacts, which callers read instead of per-plugin special cases; 4: VGG19Features and
# vgg19_layer_index, the perceptual losses' shared feature extractor). A plugin module declares
# ``SRKIT_PLUGIN_API = <int>``; a value outside OLDEST_PLUGIN_API..PLUGIN_API_VERSION is refused
# at load time with a clear message.
PLUGIN_API_VERSION = 4
# The oldest version whose plugins still load: every version after it only added names, so a
# plugin written for it finds everything it uses (tests/test_api_surface.py checks the claim).
OLDEST_PLUGIN_API = 3

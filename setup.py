"""Packaging of the built-in plugins: each folder ``plugins/NAME/srkit_NAME/`` is found here.

Everything else about the distribution is declared in ``pyproject.toml`` (which cannot glob).
A built-in plugin is therefore added by adding its folder: its packages are installed and its
``srkit`` entry point (named after the folder) is declared, exactly the entry point a
third-party plugin declares.
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent


def builtin_plugin_packages(root: Path = ROOT) -> dict[str, str]:
    """``{folder name: top-level package}`` of every ``plugins/NAME/srkit_*/__init__.py``."""
    return {init.parent.parent.name: init.parent.name
            for init in sorted(root.glob("plugins/*/srkit_*/__init__.py"))}


def main() -> None:
    plugins = builtin_plugin_packages()
    packages = find_packages(include=["srkit", "srkit.*"])
    package_dir = {}
    for folder, package in plugins.items():
        packages += find_packages(where=f"plugins/{folder}", include=[package, f"{package}.*"])
        package_dir[package] = f"plugins/{folder}/{package}"
    setup(
        packages=packages,
        package_dir=package_dir,
        entry_points={
            "console_scripts": ["srkit = srkit.cli:main"],
            # the core plugin first, then each built-in plugin under its folder's name
            "srkit": ["core = srkit.builtin",
                      *(f"{folder} = {package}" for folder, package in plugins.items())],
            # srkit.testing's fixtures (srkit_plugins, srkit_cli) for any project's tests
            "pytest11": ["srkit = srkit.testing"],
        },
    )


if __name__ == "__main__":  # pip's build backend runs this file as the main module
    main()

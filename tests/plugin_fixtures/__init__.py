"""Small plugin modules for the plugin-system tests, and a way to "install" them.

:func:`make_distribution` writes the ``*.dist-info`` folder pip would write, so a module is found
through the ``srkit`` entry-point group exactly like an installed plugin, without installing it.
"""

from __future__ import annotations

from pathlib import Path


def make_distribution(site: Path, name: str, version: str, entry_points: dict[str, str]) -> Path:
    """Write ``<site>/<name>-<version>.dist-info`` declaring ``entry_points`` (plugin -> module).

    Put ``site`` on ``sys.path`` (``monkeypatch.syspath_prepend``) for the distribution to be seen.
    """
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{plugin} = {module}\n" for plugin, module in entry_points.items())
    (info / "entry_points.txt").write_text(f"[srkit]\n{lines}")
    return info

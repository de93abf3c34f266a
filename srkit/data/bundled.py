"""Image sets shipped inside the package, so demos and tests run without downloads.

``set5`` and ``set14`` are the standard SR benchmarks (HR images); ``photos`` is a small
training set of natural photographs (see ``bundled/README.md`` for attribution).
"""

from __future__ import annotations

from pathlib import Path

from srkit.errors import SrkitError

_BUNDLED_ROOT = Path(__file__).resolve().parent / "bundled"

#: bundled name -> folder name inside ``srkit/data/bundled``
BUNDLED_DATASETS: dict[str, str] = {"set5": "Set5", "set14": "Set14", "photos": "photos"}


def _bundled_names() -> str:
    return ", ".join(BUNDLED_DATASETS)


def bundled_path(name: str) -> Path:
    """The folder of a bundled set; ``name`` is ``set5``, ``set14`` or ``photos`` (any case)."""
    folder = BUNDLED_DATASETS.get(name.strip().lower())
    if folder is None:
        raise SrkitError(f"unknown bundled dataset {name!r}; bundled: {_bundled_names()}")
    return _BUNDLED_ROOT / folder


def resolve_dataset(name_or_path: str | Path) -> Path:
    """A bundled set's folder, or ``name_or_path`` itself if it is an existing folder.

    A folder on disk wins over a bundled name, so a local ``./set5`` is never shadowed.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if isinstance(name_or_path, str) and name_or_path.strip().lower() in BUNDLED_DATASETS:
        return bundled_path(name_or_path)
    raise SrkitError(
        f"{name_or_path}: not a folder and not a bundled dataset (bundled: {_bundled_names()})"
    )

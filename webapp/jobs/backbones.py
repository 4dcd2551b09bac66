"""The backbones a job may use: the tuner's registry plus the site's plugins.

`settings.TUNING_BACKBONE_PLUGINS` names modules that call `tuning.register_backbone(...)`; they are
imported once per process, in the web process (for the form) and in the worker (before loading), so
both sides see the same list. `tuning` is imported lazily: it pulls in torch, which only the job
pages and the worker need.
"""

from __future__ import annotations

import importlib
import threading

from django.conf import settings

_lock = threading.Lock()
_imported: set[str] = set()


def load_plugins() -> None:
    with _lock:
        for module in settings.TUNING_BACKBONE_PLUGINS:
            if module not in _imported:
                importlib.import_module(module)
                _imported.add(module)


def backbone_infos() -> list:
    load_plugins()
    import tuning

    return tuning.list_backbones()


def default_backbone() -> str:
    import tuning

    return tuning.DEFAULT_BACKBONE


def backbone_label(info) -> str:
    return f"{info.label} (demo backbone)" if info.is_demo else info.label


def backbone_choices() -> list[tuple[str, str]]:
    """The default backbone first, each labelled; a demo backbone says that it is one."""
    infos = backbone_infos()
    default = default_backbone()
    infos.sort(key=lambda info: info.id != default)
    return [(info.id, backbone_label(info)) for info in infos]

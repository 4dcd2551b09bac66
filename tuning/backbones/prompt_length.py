"""A class prompt's text, and its length in tokens estimated without a tokenizer (no torch, no model file).

A query runs every class prompt through the text tower on sequences cut to the longest prompt
(text_towers.py), so its cost grows with that prompt's length: folder names such as "rolled-in_scale"
make NEU-DET's queries a fifth to a quarter dearer than "class 3". Planning (the web app's time model)
needs that length before any worker has seen the dataset. CLIP's tokenizers first split text into words,
single digits and punctuation; counting those pieces gives the length up to the rare word that byte-pair
encoding splits further, which is close enough for a time estimate.
"""
from __future__ import annotations

import re

PIECES = re.compile(r"[^\W\d_]+|\d|[^\w\s]|_", re.UNICODE)
DEFAULT_CONTEXT = "a photo of a"


def prompt_text(class_name: str) -> str:
    """Folder names become words: 'rolled-in_scale' -> 'rolled-in scale'."""
    return class_name.replace("_", " ").strip()


def prompt_tokens_estimate(class_names, ctx_init: str | None = None) -> int:
    """Tokens of the longest class prompt '<start> {ctx_init} {class}. <end>'; 0 without classes."""
    context = ctx_init or DEFAULT_CONTEXT
    return max((len(PIECES.findall(f"{context} {prompt_text(name)}.")) + 2 for name in class_names), default=0)

"""The frozen CLIP the tuner adapts: which backbone ids exist (`ids`, `catalogue`: light, no torch), how one
loads (`loader`), how its text side runs with a learned context (`text_towers`, `prompts`) and at which
precision (`precision`)."""

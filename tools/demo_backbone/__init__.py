"""Builds the demo backbone's image tower: the procedural corpus (`corpus`), the trainer (`train`) and
the zero-shot check (`zeroshot`). The model, its weights and its card live in tuning/demo_backbone."""

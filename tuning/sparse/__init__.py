"""`adapt='sparse'`: a small, sparse change of the backbone tuned forward-only beside the prompt and a
linear head. Candidate groups of parameters (`param_groups`, `text_groups`), ranked by forward-only
sensitivity (`sensitivity`), stored as a seeded delta (`vision_delta`), run with cached activations
(`image_reuse`) inside the joint objective (`joint_objective`); `setup` wires them into a run."""

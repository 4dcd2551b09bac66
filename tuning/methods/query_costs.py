"""What one step costs in queries, by estimator and by CMA-ES generation. Light (no torch): the web
side checks a launch's minimum budget (tuning.config.minimum_budget) with these counts."""


def query_cost(kind: str, d: int, q: int) -> int:
    return {"cge": 2 * d, "population": 0}.get(kind, 2 * q)


def generation_cost(cfg, sharpness_aware: bool, dim: int | None = None) -> int:
    """dim: length of the tuned vector (the run's; cfg.intrinsic_dim for adapt='prompt')."""
    d = cfg.intrinsic_dim if dim is None else dim
    grad = query_cost(cfg.stage1_grad, d, cfg.rge_queries) if sharpness_aware else 0
    return grad + cfg.popsize + 1 + (1 if sharpness_aware else 0)

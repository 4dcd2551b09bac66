"""What one step costs in queries, by estimator and by CMA-ES generation. Light (no torch): the web
side checks a launch's minimum budget (tuning.config.minimum_budget) with these counts."""


def query_cost(kind: str, d: int, q: int) -> int:
    return {"cge": 2 * d, "population": 0}.get(kind, 2 * q)


def shifts(cfg, sharpness_aware: bool) -> bool:
    """Whether a sharpness-aware stage 1 really shifts its candidates and measures sharpness: at rho = 0
    (the default) it is plain CMA-ES and spends nothing on either."""
    return sharpness_aware and cfg.rho > 0


def generation_cost(cfg, sharpness_aware: bool, dim: int | None = None) -> int:
    """dim: length of the tuned vector (the run's; cfg.intrinsic_dim for adapt='prompt')."""
    d = cfg.intrinsic_dim if dim is None else dim
    aware = shifts(cfg, sharpness_aware)
    grad = query_cost(cfg.stage1_grad, d, cfg.rge_queries) if aware else 0
    return grad + cfg.popsize + 1 + (1 if aware else 0)


def refresh_cost(cfg, dim: int) -> int:
    """Queries of one refresh of SharpZO's stage 2 (every mask_every steps): the gradient its Z-pruning mask
    and its sharpness shift come from (a CGE sweep; none from the step history) and the sharpness point pair
    when rho > 0. None at all when there is nothing to refresh (sparsity and rho both 0, the defaults)."""
    if not (cfg.sparsity > 0 or cfg.rho > 0):
        return 0
    return (0 if cfg.mask_scores == "history" else 2 * dim) + (2 if cfg.rho > 0 else 0)

"""CoOp baseline: first-order prompt tuning by backpropagation through the frozen text tower.

Not forward-only: it stores the text tower's activations for all K prompts, so its memory grows
with the number of classes (the reference our forward-only memory is compared against).
Parameters: the same w as the forward-only methods (coop_param='projected') or plain m x width
context vectors (coop_param='context', the original CoOp). Full-batch Adam on the cached training
features. Accounting: one forward + backward over the K prompts counts as ONE query (it is one
evaluation of L, plus its exact gradient), and each validation evaluation as one more.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .stages import Stage


def _tensor(x):
    return torch.tensor(x, dtype=torch.float32)


def run_coop(run) -> bool:
    cfg, obj = run.cfg, run.obj
    learner = obj.learner
    projected = cfg.coop_param == "projected"
    if projected:
        init, lr = torch.zeros(cfg.intrinsic_dim), cfg.coop_lr
    else:  # same step in embedding units as a step of coop_lr in w (entries of A have std proj_std)
        init, lr = learner.P0.detach().cpu().clone(), cfg.coop_lr * learner.proj_std * cfg.intrinsic_dim ** 0.5
    param = init.to(learner.device).requires_grad_(True)
    opt = torch.optim.Adam([param], lr=lr)
    st = run.phase_state if run.phase == Stage.COOP else {"k": 0, "evaluated_k": -1}
    if "param" in st:  # resume: parameters and Adam moments from the JSON state
        with torch.no_grad():
            param.copy_(_tensor(st["param"]).view_as(param))
        if "adam_step" in st:
            opt.state[param] = {"step": torch.tensor(float(st["adam_step"])),
                                "exp_avg": _tensor(st["exp_avg"]).view_as(param).to(param.device),
                                "exp_avg_sq": _tensor(st["exp_avg_sq"]).view_as(param).to(param.device)}

    def contexts():
        return learner.contexts(param[None]) if projected else param[None]

    def w_for_adapter():
        return param.detach().double().cpu() if projected else torch.zeros(cfg.intrinsic_dim, dtype=torch.float64)

    def state():
        s = opt.state.get(param, {})
        out = {**st, "param": param.detach().cpu().flatten().tolist()}
        if s:
            out.update(adam_step=float(s["step"]), exp_avg=s["exp_avg"].cpu().flatten().tolist(),
                       exp_avg_sq=s["exp_avg_sq"].cpu().flatten().tolist())
        return out

    def evaluate():
        obj.charge(1)
        with torch.no_grad():
            ev = obj.evaluate_features(learner.features_from_contexts(contexts().detach())[0])
        run.consider(w_for_adapter(), ev, P=None if projected else param.detach().cpu())
        run.emit(Stage.COOP, ev)
        st["evaluated_k"] = st["k"]

    while True:
        evaluate_now = (st["k"] + 1) % cfg.eval_every == 0
        if obj.remaining < 1 + evaluate_now + 1:
            break
        if run.stop_requested():
            run.save(Stage.COOP, state())
            return False
        obj.charge(1)
        T = learner.features_from_contexts(contexts(), grad=True)[0]
        loss = F.cross_entropy(obj.scale * obj.train_z @ T.T, obj.train_y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        st["k"] += 1
        run.step += 1
        if evaluate_now:
            evaluate()
        if st["k"] % cfg.checkpoint_every == 0:
            run.save(Stage.COOP, state())
    if st["evaluated_k"] != st["k"] and obj.remaining >= 1:
        evaluate()
    run.save(Stage.COOP, state())
    return True

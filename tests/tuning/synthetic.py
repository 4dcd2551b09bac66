"""A separable synthetic problem whose optimum lies inside the prompt parameterisation:
image features are noisy copies of the class text features at a hidden w*, so tuning w can raise
accuracy well above the zero-shot prompts' (w = 0)."""
import torch
import torch.nn.functional as F

from tuning.backbones.prompts import PromptLearner
from tuning.data import FewShotData, Split


def synthetic_data(backbone, K=5, d=16, shots=8, noise=0.15, w_scale=6.0, seed=0):
    names = ["red", "green", "blue", "cyan", "magenta", "yellow", "black", "white"][:K]
    learner = PromptLearner(backbone, names, intrinsic_dim=d, proj_seed=0)  # same A as TuneConfig(seed=0)
    g = torch.Generator().manual_seed(seed)
    w_star = torch.randn(d, generator=g) * w_scale
    T = learner.text_features(w_star[None])[0]

    def split(n):
        y = torch.arange(K).repeat(n)
        z = F.normalize(T[y] + noise * torch.randn(len(y), T.shape[1], generator=g), dim=-1)
        return Split(z, y, [f"img{i}" for i in range(len(y))])

    return FewShotData(names, split(shots), split(shots), split(30), backbone_id=backbone.id,
                       dataset_hash="synthetic", shots=shots, seed=seed)

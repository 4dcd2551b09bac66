"""Procedural image-caption corpus of industrial-inspection concepts.

Every sample is a pure function of (seed, index): the same seed always yields the same images and
captions, on any machine (numpy's PCG64 plus PIL drawing, no global state).

An image shows a material (brushed metal, hot-rolled steel, cast metal, woven fabric, textile, wood,
plastic, concrete) under varied lighting, scale, orientation and noise, with at most one kind of
defect (scratches, crazing, a crack, inclusions, patches, pits, rolled-in scale, holes, a stain,
a dent, rust, missing threads, a small local flaw, a global texture irregularity), or a few coloured
shapes (shape, colour, count, position). Each image carries several differently worded captions.

The vocabulary follows the words inspection engineers use: a network of fine cracks is "crazing",
dark elongated spots rolled into steel are "inclusions", many small holes are a "pitted surface",
a single small flaw is a "local defect", an irregularity over the whole surface is a "global
defect", a defect-free part is "nominal". That is domain language, not data from any test set.

Each caption records which attributes it asserts (material, defect, defect group), so training can
count every caption that is true of an image as a positive, not only the image's own caption.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# v1 built demo-v1 (commit d412083); v2 added painted metal, ceramic and leather, the close-up and
# lighting views, camera artefacts and inspection-context captions.
VERSION = "v2"

# Drawn at 1.5x to 2x the output size, then downsampled with antialiasing like real photos. The
# absolute stroke widths and pit radii below are in render pixels, so a larger render also draws
# finer defects: with the close-up views below, every defect appears at several scales.
MIN_RENDER_SIZE = 128


def render_size(size: int) -> int:
    return max(MIN_RENDER_SIZE, int(round(1.5 * size)))

MATERIALS = {
    # id: (names used in captions)
    "brushed_metal": ["brushed metal", "brushed steel", "brushed metal sheet", "brushed aluminium"],
    "steel_strip": ["hot-rolled steel", "steel strip", "rolled steel", "steel plate", "metal"],
    "cast_metal": ["cast metal", "cast iron", "rough cast metal", "sand-cast metal"],
    "woven_fabric": ["woven fabric", "woven cloth", "fabric", "canvas"],
    "textile": ["textile", "knitted fabric", "fabric", "cloth"],
    "wood": ["wood", "wooden board", "wood grain", "timber"],
    "plastic": ["plastic", "plastic part", "moulded plastic", "smooth plastic"],
    "concrete": ["concrete", "stone", "granular stone", "cement"],
    "painted_metal": ["painted metal", "a painted surface", "coated metal", "powder-coated metal"],
    "ceramic": ["ceramic", "ceramic tile", "glazed ceramic", "porcelain"],
    "leather": ["leather", "leather hide", "grained leather", "synthetic leather"],
}
MATERIAL_IDS = list(MATERIALS)
METALS = {"brushed_metal", "steel_strip", "cast_metal", "painted_metal"}
FABRICS = {"woven_fabric", "textile"}

# defect groups (bit flags): what kind of anomaly it is, for the generic captions
FREE, LOCAL, GLOBAL, ANY = 1, 2, 4, 8

DEFECTS = {
    # id: (group bits, material ids it may appear on or None for all)
    "none": (FREE, None),
    "scratches": (LOCAL | ANY, None),
    "crazing": (GLOBAL | ANY, None),
    "crack": (LOCAL | ANY, None),
    "inclusion": (LOCAL | ANY, METALS | {"plastic", "concrete"}),
    "patches": (GLOBAL | ANY, None),
    "pitted": (GLOBAL | ANY, None),
    "rolled_in_scale": (GLOBAL | ANY, METALS),
    "hole": (LOCAL | ANY, None),
    "stain": (LOCAL | ANY, None),
    "dent": (LOCAL | ANY, METALS | {"plastic"}),
    "rust": (ANY, METALS),
    "missing_threads": (LOCAL | ANY, FABRICS),
    "local_flaw": (LOCAL | ANY, None),
    "global_irregularity": (GLOBAL | ANY, None),
    "shapes": (0, None),
}
DEFECT_IDS = list(DEFECTS)
# sampling weights: defect-free surfaces and the defects that real data shows most get more
DEFECT_WEIGHTS = {
    "none": 4.0, "scratches": 1.5, "crazing": 1.5, "crack": 0.8, "inclusion": 1.5, "patches": 1.5,
    "pitted": 1.5, "rolled_in_scale": 1.5, "hole": 0.8, "stain": 0.8, "dent": 0.6, "rust": 0.6,
    "missing_threads": 0.6, "local_flaw": 1.5, "global_irregularity": 1.5, "shapes": 1.2,
}

COLOURS = {
    "red": (200, 40, 40), "green": (40, 160, 60), "blue": (40, 70, 200), "yellow": (220, 200, 40),
    "orange": (230, 130, 30), "purple": (130, 50, 160), "white": (235, 235, 235), "black": (20, 20, 20),
}
SHAPES = ["circle", "square", "triangle"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four"]
POSITIONS = {"top left": (0.27, 0.27), "top right": (0.73, 0.27), "bottom left": (0.27, 0.73),
             "bottom right": (0.73, 0.73), "centre": (0.5, 0.5)}


@dataclass
class Caption:
    text: str
    material: int = -1  # material id it asserts, -1 when silent
    defect: int = -1  # defect id it asserts, -1 when silent
    group: int = 0  # defect-group bit it asserts, 0 when silent


@dataclass
class Sample:
    image: np.ndarray  # H x W x 3 uint8
    material: int
    defect: int
    groups: int
    captions: list[Caption] = field(default_factory=list)
    grayscale: bool = False


# ----------------------------------------------------------------------------- textures

def _blur(a, sigma):
    """Separable Gaussian blur with wrap-around edges (PIL cannot blur float images)."""
    if sigma <= 0:
        return a
    r = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    for axis in (0, 1):
        out = np.zeros_like(a)
        for i, wgt in enumerate(k):
            out += wgt * np.roll(a, i - r, axis=axis)
        a = out
    return a


def _noise(rng, h, w, blur=0.0):
    a = _blur(rng.random((h, w)).astype(np.float32), blur)
    return (a - a.mean()) / (a.std() + 1e-6)


def _resize(a, h, w):
    img = Image.fromarray(a.astype(np.float32), mode="F")
    return np.asarray(img.resize((w, h), Image.BILINEAR), dtype=np.float32)


def _rotate(a, angle):
    img = Image.fromarray(a.astype(np.float32), mode="F")
    return np.asarray(img.rotate(angle, resample=Image.BILINEAR, expand=False), dtype=np.float32)


def _streaks(rng, n, length, angle):
    """Noise stretched along one direction (brushed or rolled textures), n x n, unit variance."""
    big = int(n * 1.5)
    base = rng.standard_normal((big, max(2, big // length)))
    a = _resize(base, big, big)
    a = _rotate(a, angle)
    o = (big - n) // 2
    a = a[o:o + n, o:o + n]
    return (a - a.mean()) / (a.std() + 1e-6)


def _lowfreq(rng, n, cells=4):
    a = _resize(rng.standard_normal((cells, cells)), n, n)
    return a / (np.abs(a).max() + 1e-6)


def render_material(rng, material, n):
    """Grayscale field around 0.5 and an RGB tint for one material."""
    if material == "brushed_metal":
        angle = rng.choice([0, 90, rng.uniform(0, 180)])
        v = 0.10 * _streaks(rng, n, int(rng.integers(8, 40)), angle) + 0.03 * _noise(rng, n, n)
        base, tint = rng.uniform(0.45, 0.75), (1.0, 1.0, rng.uniform(1.0, 1.08))
    elif material == "steel_strip":
        v = 0.05 * _streaks(rng, n, int(rng.integers(20, 60)), 90 + rng.uniform(-3, 3))
        v += 0.04 * _noise(rng, n, n, blur=rng.uniform(0.3, 1.2)) + 0.08 * _lowfreq(rng, n, 3)
        base, tint = rng.uniform(0.3, 0.65), (1.0, 1.0, 1.0)
    elif material == "cast_metal":
        v = 0.07 * _noise(rng, n, n, blur=rng.uniform(0.5, 1.5)) + 0.05 * _noise(rng, n, n, blur=4)
        base, tint = rng.uniform(0.3, 0.6), (1.0, 0.98, 0.95)
    elif material == "woven_fabric":
        period = rng.uniform(4, 12)
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
        angle = math.radians(rng.uniform(0, 180))
        u = xx * math.cos(angle) + yy * math.sin(angle)
        w = -xx * math.sin(angle) + yy * math.cos(angle)
        warp = np.sin(2 * np.pi * u / period)
        weft = np.sin(2 * np.pi * w / period)
        checker = np.sign(np.sin(np.pi * u / period) * np.sin(np.pi * w / period))
        v = 0.12 * np.where(checker > 0, warp, weft) + 0.04 * _noise(rng, n, n)
        base = rng.uniform(0.3, 0.7)
        tint = tuple(rng.uniform(0.6, 1.3, 3))
    elif material == "textile":
        # knitted/twill look: short diagonal streaks with strong grain
        angle = rng.uniform(15, 60) * rng.choice([-1, 1])
        v = 0.13 * _streaks(rng, n, int(rng.integers(3, 10)), angle) + 0.06 * _noise(rng, n, n, blur=0.6)
        v += 0.05 * _noise(rng, n, n, blur=5)
        base = rng.uniform(0.35, 0.65)
        tint = (1.0, 1.0, 1.0) if rng.random() < 0.5 else tuple(rng.uniform(0.6, 1.3, 3))
    elif material == "wood":
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
        freq = rng.uniform(0.08, 0.3)
        dist = 12 * _lowfreq(rng, n, 3) + 3 * _noise(rng, n, n, blur=3)
        v = 0.1 * np.sin(freq * (yy + dist)) + 0.04 * _streaks(rng, n, 30, 0)
        v = _rotate(v, rng.choice([0, 90]))
        base, tint = rng.uniform(0.45, 0.7), (1.15, 0.85, 0.55)
    elif material == "plastic":
        v = 0.015 * _noise(rng, n, n, blur=1) + 0.05 * _lowfreq(rng, n, 2)
        base = rng.uniform(0.25, 0.8)
        tint = tuple(rng.uniform(0.4, 1.5, 3))
    elif material == "painted_metal":
        # orange peel: a fine low-contrast ripple over a flat colour
        v = 0.03 * _noise(rng, n, n, blur=rng.uniform(1.5, 3.0)) + 0.04 * _lowfreq(rng, n, 3)
        base = rng.uniform(0.3, 0.8)
        tint = tuple(rng.uniform(0.5, 1.4, 3))
    elif material == "ceramic":
        v = 0.01 * _noise(rng, n, n, blur=0.8) + 0.03 * _lowfreq(rng, n, 2)
        v -= 0.08 * (rng.random((n, n)) < 0.002)  # glaze speckles
        base, tint = rng.uniform(0.55, 0.9), tuple(rng.uniform(0.85, 1.1, 3))
    elif material == "leather":
        pores = _blur((rng.random((n, n)) < 0.04).astype(np.float32), 0.7)
        wrinkles = _streaks(rng, n, int(rng.integers(4, 12)), rng.uniform(0, 180))
        v = -0.25 * pores + 0.05 * wrinkles + 0.05 * _noise(rng, n, n, blur=2.0)
        base, tint = rng.uniform(0.2, 0.6), (1.1, 0.85, 0.65) if rng.random() < 0.6 else (1.0, 1.0, 1.0)
    else:  # concrete
        v = 0.08 * _noise(rng, n, n, blur=rng.uniform(0.4, 1.0)) + 0.06 * _noise(rng, n, n, blur=3)
        dots = rng.random((n, n)) < 0.01
        v -= 0.15 * dots
        base, tint = rng.uniform(0.4, 0.7), (1.0, 0.98, 0.94)
    scale = rng.uniform(0.6, 1.6)  # texture contrast varies a lot between parts and cameras
    return base + scale * v, np.array(tint, dtype=np.float32)


# ----------------------------------------------------------------------------- defects

def _canvas(n):
    img = Image.new("F", (n, n), 0.0)
    return img, ImageDraw.Draw(img)


def _as_array(img, blur=0.0):
    return _blur(np.asarray(img, dtype=np.float32), blur)


def _polyline(rng, start, angle, steps, step_len, wiggle):
    pts = [start]
    x, y = start
    for _ in range(steps):
        angle += rng.normal(0, wiggle)
        x += step_len * math.cos(angle)
        y += step_len * math.sin(angle)
        pts.append((x, y))
    return pts


def _blob_mask(rng, n, cx, cy, radius, irregular=0.4, blur=2.0):
    """A soft irregular blob (0..1)."""
    img, draw = _canvas(n)
    k = int(rng.integers(8, 16))
    phase = rng.uniform(0, 2 * np.pi, 3)
    pts = []
    for i in range(k):
        t = 2 * np.pi * i / k
        r = radius * (1 + irregular * (0.6 * math.sin(2 * t + phase[0]) + 0.4 * math.sin(3 * t + phase[1])
                                       + 0.3 * rng.uniform(-1, 1)))
        pts.append((cx + r * math.cos(t) * rng.uniform(0.8, 1.2), cy + r * math.sin(t)))
    draw.polygon(pts, fill=1.0)
    return _as_array(img, blur)


def apply_defect(rng, defect, v, material, n):
    """Draw a defect into the grayscale field v (in place copy). Returns (v, colour_overlay|None, count)."""
    sign = -1.0 if rng.random() < 0.8 else 1.0  # most defects are darker than the surface
    count = 0
    overlay = None
    if defect == "scratches":
        count = int(rng.integers(1, 5))
        img, draw = _canvas(n)
        main = rng.choice([math.pi / 2, 0.0, rng.uniform(0, math.pi)])
        for _ in range(count):
            start = (rng.uniform(0, n), rng.uniform(0, n) if rng.random() < 0.5 else rng.choice([0.0, n - 1.0]))
            ang = main + rng.normal(0, 0.15)
            if rng.random() < 0.5:
                ang += math.pi
            pts = _polyline(rng, start, ang, 12, n * rng.uniform(0.04, 0.1), 0.02)
            draw.line(pts, fill=float(rng.uniform(0.6, 1.0)), width=int(rng.integers(1, 4)))
        s = 1.0 if rng.random() < 0.6 else -1.0  # scratches often catch the light
        v = v + s * rng.uniform(0.25, 0.5) * _as_array(img, rng.uniform(0.3, 1.0))
    elif defect == "crazing":
        img, draw = _canvas(n)
        count = int(rng.integers(30, 90))
        for _ in range(count):
            start = (rng.uniform(0, n), rng.uniform(0, n))
            pts = _polyline(rng, start, rng.uniform(0, 2 * np.pi), int(rng.integers(3, 9)),
                            rng.uniform(2, 5), 0.6)
            draw.line(pts, fill=1.0, width=1)
        v = v - rng.uniform(0.15, 0.4) * _as_array(img, rng.uniform(0.3, 0.8))
        v = v + 0.05 * _noise(rng, n, n, blur=0.5)
    elif defect == "crack":
        img, draw = _canvas(n)
        count = 1
        start = (rng.uniform(0, n), rng.uniform(0, n))
        pts = _polyline(rng, start, rng.uniform(0, 2 * np.pi), 25, n / 30, 0.35)
        draw.line(pts, fill=1.0, width=int(rng.integers(1, 3)))
        for _ in range(int(rng.integers(0, 3))):
            b = pts[int(rng.integers(0, len(pts)))]
            draw.line(_polyline(rng, b, rng.uniform(0, 2 * np.pi), 8, n / 40, 0.4), fill=1.0, width=1)
        v = v - rng.uniform(0.3, 0.5) * _as_array(img, 0.4)
    elif defect == "inclusion":
        img, draw = _canvas(n)
        count = int(rng.integers(2, 12))
        ang = math.pi / 2 + rng.normal(0, 0.1) if rng.random() < 0.7 else rng.uniform(0, math.pi)
        cx0 = rng.uniform(0.15, 0.85) * n
        for _ in range(count):
            cx = cx0 + rng.normal(0, n * 0.12) if rng.random() < 0.7 else rng.uniform(0, n)
            cy = rng.uniform(0, n)
            L = rng.uniform(3, 14)
            W = rng.uniform(0.8, 2.5)
            dx, dy = L * math.cos(ang), L * math.sin(ang)
            draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=float(rng.uniform(0.6, 1.0)),
                      width=max(1, int(round(W))))
        v = v - rng.uniform(0.2, 0.5) * _as_array(img, rng.uniform(0.5, 1.2))
    elif defect == "patches":
        count = int(rng.integers(1, 4))
        m = np.zeros((n, n), np.float32)
        for _ in range(count):
            m = np.maximum(m, _blob_mask(rng, n, rng.uniform(0.1, 0.9) * n, rng.uniform(0.1, 0.9) * n,
                                         rng.uniform(0.1, 0.3) * n, 0.5, rng.uniform(2, 6)))
        v = v + sign * rng.uniform(0.2, 0.45) * m
        if rng.random() < 0.5:  # patch-type images often have strong contrast and a mottled surface
            v = v + 0.06 * _noise(rng, n, n, blur=1.0) - sign * 0.1 * (1 - m)
    elif defect == "pitted":
        count = int(rng.integers(40, 300))
        img, draw = _canvas(n)
        band = rng.random() < 0.5  # pits often cluster in a region
        cx = rng.uniform(0.2, 0.8) * n
        for _ in range(count):
            x = cx + rng.normal(0, n * 0.15) if band else rng.uniform(0, n)
            y = rng.uniform(0, n)
            r = rng.uniform(0.5, 2.0)
            draw.ellipse([x - r, y - r * rng.uniform(0.8, 1.6), x + r, y + r], fill=float(rng.uniform(0.5, 1.0)))
        v = v - rng.uniform(0.2, 0.45) * _as_array(img, 0.5)
    elif defect == "rolled_in_scale":
        count = int(rng.integers(15, 60))
        img, draw = _canvas(n)
        for _ in range(count):
            x, y = rng.uniform(0, n), rng.uniform(0, n)
            sx, sy = rng.uniform(2, 7), rng.uniform(1.5, 4)
            pts = [(x + rng.uniform(-sx, sx), y + rng.uniform(-sy, sy)) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(pts, fill=float(rng.uniform(0.5, 1.0)))
        flakes = _as_array(img, 0.6)
        v = v - rng.uniform(0.25, 0.5) * flakes + 0.07 * _noise(rng, n, n, blur=1.5)
    elif defect == "hole":
        count = int(rng.integers(1, 4))
        img, draw = _canvas(n)
        rim, rdraw = _canvas(n)
        for _ in range(count):
            x, y = rng.uniform(0.15, 0.85) * n, rng.uniform(0.15, 0.85) * n
            r = rng.uniform(2, 8)
            rdraw.ellipse([x - r - 1.5, y - r - 1.5, x + r + 1.5, y + r + 1.5], fill=1.0)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=1.0)
        hole = _as_array(img, 0.4)
        v = v + 0.12 * _as_array(rim, 0.6) * (1 - hole)
        v = v * (1 - hole) + hole * rng.uniform(0.0, 0.12)
    elif defect == "stain":
        count = 1
        m = _blob_mask(rng, n, rng.uniform(0.2, 0.8) * n, rng.uniform(0.2, 0.8) * n,
                       rng.uniform(0.06, 0.18) * n, 0.5, rng.uniform(3, 6))
        v = v + sign * rng.uniform(0.1, 0.3) * m
        if rng.random() < 0.5:
            overlay = (m, np.array(rng.uniform(0.3, 1.0, 3), np.float32))
    elif defect == "dent":
        count = 1
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
        cx, cy, r = rng.uniform(0.25, 0.75) * n, rng.uniform(0.25, 0.75) * n, rng.uniform(0.08, 0.2) * n
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / r
        bowl = np.clip(1 - d, 0, 1)
        light = ((xx - cx) + (yy - cy)) / r  # lit from the top-left: one side bright, one side dark
        v = v + rng.uniform(0.3, 0.6) * np.sqrt(bowl) * np.clip(light, -1, 1)
    elif defect == "rust":
        count = int(rng.integers(1, 4))
        m = np.zeros((n, n), np.float32)
        for _ in range(count):
            m = np.maximum(m, _blob_mask(rng, n, rng.uniform(0.1, 0.9) * n, rng.uniform(0.1, 0.9) * n,
                                         rng.uniform(0.08, 0.25) * n, 0.7, 2))
        m = np.clip(m * (0.7 + 0.6 * _noise(rng, n, n, blur=1.5) * 0.5), 0, 1)
        v = v - 0.15 * m
        overlay = (m, np.array([0.75, 0.35, 0.12], np.float32) * rng.uniform(0.8, 1.2))
    elif defect == "missing_threads":
        count = 1
        img, draw = _canvas(n)
        horizontal = rng.random() < 0.5
        pos, width = rng.uniform(0.2, 0.8) * n, rng.uniform(2, 8)
        box = [0, pos, n, pos + width] if horizontal else [pos, 0, pos + width, n]
        draw.rectangle(box, fill=1.0)
        m = _as_array(img, 0.7)
        v = v * (1 - m) + m * (np.mean(v) + sign * 0.15)
    elif defect == "local_flaw":
        # one small irregular flaw: a knot, a tiny tear, a fleck of dirt
        count = 1
        cx, cy = rng.uniform(0.15, 0.85) * n, rng.uniform(0.15, 0.85) * n
        r = rng.uniform(0.04, 0.1) * n
        m = _blob_mask(rng, n, cx, cy, r, 0.6, 0.8)
        speckle = _blur((rng.random((n, n)) < 0.5).astype(np.float32) * 2 - 1, 0.5)
        v = v * (1 - m) + m * (np.mean(v) + rng.uniform(0.3, 0.6) * speckle + sign * rng.uniform(0.1, 0.3))
    elif defect == "global_irregularity":
        # the regular structure is disturbed everywhere: warped, grainy, uneven density
        kind = rng.integers(0, 3)
        if kind == 0:
            v = v + rng.uniform(0.1, 0.2) * _noise(rng, n, n, blur=rng.uniform(0.4, 0.9))
        elif kind == 1:
            shift = (rng.uniform(2, 6) * _lowfreq(rng, n, 6)).astype(np.int32)
            idx = (np.arange(n)[None, :] + shift) % n
            v = np.take_along_axis(v, idx, axis=1)
            v = v + 0.08 * _noise(rng, n, n, blur=0.5)
        else:
            v = v * (1 + 0.6 * _lowfreq(rng, n, 8)) + 0.1 * _noise(rng, n, n, blur=0.7)
    return v, overlay, count


# ----------------------------------------------------------------------------- captions

DEFECT_PHRASES = {
    "scratches": ["scratches", "a scratch", "long thin scratches", "scratch marks", "a scratched surface",
                  "linear scratches"],
    "crazing": ["crazing", "a crazed surface", "a network of fine cracks", "many fine hairline cracks",
                "crazing: fine cracks all over", "a web of tiny cracks"],
    "crack": ["a crack", "a long crack", "a fracture line", "a cracked surface", "a jagged crack"],
    "inclusion": ["inclusions", "an inclusion", "dark elongated spots", "non-metallic inclusions",
                  "dark slag inclusions", "small dark streaks embedded in the surface"],
    "patches": ["patches", "dark patches", "patches of different brightness", "large blotchy patches",
                "uneven patches", "irregular patches"],
    "pitted": ["a pitted surface", "pits", "many small pits", "pitting", "pitting corrosion",
               "a surface covered in tiny pits"],
    "rolled_in_scale": ["rolled-in scale", "rolled in scale", "scale rolled into the surface",
                        "flaky scale marks", "oxide scale pressed into the surface"],
    "hole": ["a hole", "holes", "a puncture", "a round hole", "a perforation"],
    "stain": ["a stain", "a dirty spot", "a discoloured spot", "a smudge", "a blotch"],
    "dent": ["a dent", "a dented surface", "a small dent", "an impact dent"],
    "rust": ["rust", "rusty spots", "corrosion", "rust stains", "orange rust"],
    "missing_threads": ["missing threads", "a broken thread", "a missing yarn", "a gap in the weave"],
    "local_flaw": ["a local defect", "a small local defect", "a small flaw", "a tiny defect", "a single small flaw",
                   "a localized defect"],
    "global_irregularity": ["a global defect", "a defect across the whole surface", "an irregular texture",
                            "an uneven texture everywhere", "a distorted pattern", "a global texture defect"],
}
GROUP_PHRASES = {
    FREE: ["no defects", "no defect", "nominal", "a good part", "flawless", "defect-free", "normal",
           "no anomaly", "OK", "an OK part", "a part that passes inspection"],
    LOCAL: ["a local defect", "a localized defect", "a small local flaw", "a defect in one spot"],
    GLOBAL: ["a global defect", "a defect spread over the whole surface", "defects everywhere"],
    ANY: ["a defect", "a defective part", "an anomaly", "a flaw", "a damaged surface", "not OK"],
}
FREE_TEMPLATES = [
    "{m} with no defects", "a clean {m} surface", "a defect-free {m}", "nominal {m}", "a photo of nominal {m}",
    "a flawless {m}", "a good {m} part without flaws", "a photo of {m}", "a close-up of {m}",
    "an inspection image of normal {m}", "a uniform {m} texture", "a photo of a nominal surface",
    "a normal surface", "a photo of a good part", "an inspection camera image of a good {m} part",
    "{m}: no defects found", "quality control photo of nominal {m}", "a {m} part that passes inspection",
]
DEFECT_TEMPLATES = [
    "{d} on {m}", "a photo of {d}", "{m} with {d}", "a close-up of {d} on {m}", "an inspection image showing {d}",
    "a photo of {m} with {d}", "{d}", "a surface with {d}", "a defect: {d}", "a photo of {d} on a surface",
    "an inspection camera image of {m} with {d}", "{d} found on {m} during inspection",
    "quality control photo: {d} on {m}", "a photo of a defect: {d}",
]
GROUP_TEMPLATES = ["a photo of {g}", "{m} with {g}", "an inspection image: {g}", "a surface with {g}"]


def _material_name(rng, material):
    names = MATERIALS[material]
    return names[int(rng.integers(0, len(names)))]


def _pick(rng, items):
    return items[int(rng.integers(0, len(items)))]


def make_captions(rng, material, defect, groups, count, k=5, view="plain"):
    mi, di = MATERIAL_IDS.index(material), DEFECT_IDS.index(defect)
    caps: list[Caption] = []
    seen = set()
    tries = 0
    while len(caps) < k and tries < 40:
        tries += 1
        use_m = rng.random() < 0.6
        m = _material_name(rng, material)
        if defect == "none":
            t = _pick(rng, FREE_TEMPLATES)
            text = t.format(m=m)
            c = Caption(text, material=mi if "{m}" in t else -1, defect=di, group=FREE)
        elif rng.random() < 0.25:
            g = _pick(rng, [b for b in (LOCAL, GLOBAL, ANY) if groups & b])
            t = _pick(rng, GROUP_TEMPLATES if use_m else GROUP_TEMPLATES[:1] + GROUP_TEMPLATES[2:])
            text = t.format(m=m, g=_pick(rng, GROUP_PHRASES[g]))
            c = Caption(text, material=mi if "{m}" in t else -1, group=g)
        else:
            d = _pick(rng, DEFECT_PHRASES[defect])
            if defect in ("scratches", "hole", "rust", "patches") and 1 < count <= 4 and rng.random() < 0.3:
                d = f"{NUMBER_WORDS[count]} {DEFECT_PHRASES[defect][0].rstrip('s')}s".replace("scratchs", "scratches")
            t = _pick(rng, DEFECT_TEMPLATES)
            if not use_m:
                t = t.replace(" on {m}", "").replace("{m} with ", "").replace(" of {m} with", " of")
            text = t.format(m=m, d=d)
            c = Caption(text, material=mi if "{m}" in t else -1, defect=di)
        if VIEWS[view][1] and rng.random() < 0.3:
            c.text = f"{c.text}, {_pick(rng, VIEWS[view][1])}"
        if c.text not in seen:
            seen.add(c.text)
            caps.append(c)
    return caps


def shape_concept(shape, colour, count):
    """Shape images get one concept id per (shape, colour, count), above the defect ids."""
    return 100 + (SHAPES.index(shape) * len(COLOURS) + list(COLOURS).index(colour)) * 5 + count


def _shape_captions(rng, shape, colour, count, position, material):
    di = shape_concept(shape, colour, count)
    mi = MATERIAL_IDS.index(material)
    plural = shape + "s" if count > 1 else shape
    num = NUMBER_WORDS[count] if count > 1 else "a"
    texts = [
        (f"{num} {colour} {plural}", -1),
        (f"a photo of {num} {colour} {plural}", -1),
        (f"{num} {colour} {plural} on {_material_name(rng, material)}", mi),
        (f"{count} {colour} {plural}", -1),
    ]
    if count == 1:
        texts.append((f"a {colour} {shape} in the {position}", -1))
        texts.append((f"a {colour} {shape} at the {position} of the image", -1))
    return [Caption(t, material=m, defect=di) for t, m in texts]


# ----------------------------------------------------------------------------- samples

VIEWS = {
    # id: (probability, caption phrases). How the camera and the light see the part; no positive
    # depends on it, so these words only teach the inspection context.
    "plain": (0.55, []),
    "close_up": (0.2, ["close-up", "macro view", "zoomed in"]),
    "raking_light": (0.15, ["under low-angle light", "lit from the side", "raking light"]),
    "top_light": (0.1, ["under top light", "under bright ring light", "coaxial light"]),
}


def pick_view(rng) -> str:
    p = np.array([VIEWS[k][0] for k in VIEWS])
    return list(VIEWS)[int(rng.choice(len(VIEWS), p=p / p.sum()))]


def light(rng, v, view):
    """Raking light turns relief into bright and dark flanks (scratches and pits stand out); a top or
    ring light flattens the texture and adds a broad highlight."""
    if view == "raking_light":
        g = _blur(v, 0.8)
        ang = rng.uniform(0, 2 * np.pi)
        shade = (np.roll(g, 1, 1) - g) * math.cos(ang) + (np.roll(g, 1, 0) - g) * math.sin(ang)
        return v + rng.uniform(2.0, 5.0) * shade
    if view == "top_light":
        n = v.shape[0]
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
        cx, cy = rng.uniform(0.3, 0.7, 2)
        glow = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / rng.uniform(0.05, 0.3))
        mean = v.mean()
        return (v - mean) * rng.uniform(0.6, 0.9) + mean + rng.uniform(0.1, 0.3) * glow
    return v


def camera(rng, img: Image.Image, grayscale: bool) -> Image.Image:
    """Sensor and pipeline artefacts: shot noise, line-scan row noise, defocus, JPEG compression."""
    a = np.asarray(img, dtype=np.float32) / 255.0
    n = a.shape[0]
    a = a + rng.uniform(0, 0.05) * np.sqrt(a + 0.02) * rng.standard_normal((n, n, 1 if grayscale else 3))
    if rng.random() < 0.2:  # line-scan cameras: each row (or column) has its own gain
        rows = 1 + rng.uniform(0.01, 0.05) * rng.standard_normal((n, 1, 1))
        a = a * (rows if rng.random() < 0.5 else rows.transpose(1, 0, 2))
    img = Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.4:
        import io

        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=int(rng.integers(30, 95)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def _finish(rng, v, tint, overlay, n, size, grayscale, view="plain"):
    # lighting: a gradient and a vignette, the view's light, then contrast, sensor noise and blur
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    ang = rng.uniform(0, 2 * np.pi)
    v = v + rng.uniform(0, 0.25) * ((xx - 0.5) * math.cos(ang) + (yy - 0.5) * math.sin(ang))
    v = v - rng.uniform(0, 0.25) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)
    v = light(rng, v, view)
    mean = v.mean()
    v = (v - mean) * rng.uniform(0.7, 1.5) + mean + rng.uniform(-0.1, 0.1)
    rgb = v[..., None] * tint[None, None, :]
    if overlay is not None:
        m, colour = overlay
        rgb = rgb * (1 - 0.7 * m[..., None]) + 0.7 * m[..., None] * colour[None, None, :] * (0.5 + v[..., None])
    if grayscale:
        rgb = rgb.mean(axis=2, keepdims=True).repeat(3, axis=2)
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    return np.asarray(camera(rng, img.resize((size, size), Image.LANCZOS), grayscale))


def _shapes_image(rng, material, n):
    v, tint = render_material(rng, material, n)
    v = 0.5 + 0.4 * (v - v.mean())
    rgb = np.clip(v[..., None] * tint[None, None, :], 0, 1)
    img = Image.fromarray((rgb * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    shape = _pick(rng, SHAPES)
    colour = _pick(rng, list(COLOURS))
    count = int(rng.integers(1, 5))
    position = _pick(rng, list(POSITIONS))
    r = n * rng.uniform(0.08, 0.14)
    if count == 1:
        centres = [(POSITIONS[position][0] * n, POSITIONS[position][1] * n)]
    else:
        slots = rng.permutation(len(POSITIONS))[:count]
        centres = [(list(POSITIONS.values())[s][0] * n, list(POSITIONS.values())[s][1] * n) for s in slots]
    for cx, cy in centres:
        cx += rng.uniform(-0.05, 0.05) * n
        cy += rng.uniform(-0.05, 0.05) * n
        box = [cx - r, cy - r, cx + r, cy + r]
        if shape == "circle":
            draw.ellipse(box, fill=COLOURS[colour])
        elif shape == "square":
            draw.rectangle(box, fill=COLOURS[colour])
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[colour])
    return img, shape, colour, count, position


def sample_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index)])


def generate_sample(seed: int, index: int, size: int = 64) -> Sample:
    """Sample `index` of the corpus with this seed (deterministic)."""
    rng = sample_rng(seed, index)
    n = render_size(size)
    weights = np.array([DEFECT_WEIGHTS[d] for d in DEFECT_IDS])
    defect = DEFECT_IDS[int(rng.choice(len(DEFECT_IDS), p=weights / weights.sum()))]
    allowed = DEFECTS[defect][1]
    materials = [m for m in MATERIAL_IDS if allowed is None or m in allowed]
    # steel and fabric surfaces are what the product sees most
    mw = np.array([2.0 if m in METALS or m in FABRICS else 1.0 for m in materials])
    material = materials[int(rng.choice(len(materials), p=mw / mw.sum()))]
    grayscale = bool(rng.random() < 0.5)
    groups = DEFECTS[defect][0]
    mi, di = MATERIAL_IDS.index(material), DEFECT_IDS.index(defect)

    if defect == "shapes":
        img, shape, colour, count, position = _shapes_image(rng, material, n)
        image = np.asarray(img.resize((size, size), Image.LANCZOS))
        caps = _shape_captions(rng, shape, colour, count, position, material)
        di = shape_concept(shape, colour, count)
        return Sample(image=image, material=mi, defect=di, groups=0, captions=caps, grayscale=False)

    view = pick_view(rng)
    # a close-up draws the part on a smaller canvas and enlarges it: texture and defect grow together,
    # so a defect is never cropped out of its own caption
    drawn = int(n / rng.uniform(1.5, 3.0)) if view == "close_up" else n
    v, tint = render_material(rng, material, drawn)
    if grayscale:
        tint = np.ones(3, np.float32)
    overlay, count = None, 0
    if defect != "none":
        v, overlay, count = apply_defect(rng, defect, v, material, drawn)
    if drawn != n:
        v = _resize(v, n, n)
        if overlay is not None:
            overlay = (_resize(overlay[0], n, n), overlay[1])
    image = _finish(rng, v, tint, overlay, n, size, grayscale, view)
    caps = make_captions(rng, material, defect, groups, count, view=view)
    return Sample(image=image, material=mi, defect=di, groups=groups, captions=caps, grayscale=grayscale)


def caption_is_true(caption: Caption, material: int, defect: int, groups: int) -> bool:
    if caption.material >= 0 and caption.material != material:
        return False
    if caption.defect >= 0 and caption.defect != defect:
        return False
    if caption.group and not (caption.group & groups):
        return False
    return True


@dataclass
class Corpus:
    seed: int
    images: np.ndarray  # N x H x W x 3 uint8
    material: np.ndarray  # N
    defect: np.ndarray  # N
    groups: np.ndarray  # N
    caption_texts: list[str]  # unique caption strings
    caption_attrs: np.ndarray  # C x 3 (material, defect, group) asserted by each unique caption
    sample_captions: list[list[int]]  # per sample: indices into caption_texts


def _gen_range(args):
    seed, start, stop, size = args
    return [generate_sample(seed, i, size) for i in range(start, stop)]


def generate_corpus(seed: int, n: int, size: int = 64, workers: int = 1, progress=None) -> Corpus:
    """The first n samples of the corpus for this seed (identical for any number of workers)."""
    chunk = 500
    jobs = [(seed, s, min(n, s + chunk), size) for s in range(0, n, chunk)]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            parts = pool.imap(_gen_range, jobs)
            samples = []
            for part in parts:
                samples.extend(part)
                if progress:
                    progress(len(part))
    else:
        samples = []
        for job in jobs:
            part = _gen_range(job)
            samples.extend(part)
            if progress:
                progress(len(part))
    texts: dict[str, int] = {}
    attrs = []
    per_sample = []
    for s in samples:
        idx = []
        for c in s.captions:
            if c.text not in texts:
                texts[c.text] = len(texts)
                attrs.append((c.material, c.defect, c.group))
            idx.append(texts[c.text])
        per_sample.append(idx)
    return Corpus(
        seed=seed,
        images=np.stack([s.image for s in samples]),
        material=np.array([s.material for s in samples], np.int64),
        defect=np.array([s.defect for s in samples], np.int64),
        groups=np.array([s.groups for s in samples], np.int64),
        caption_texts=list(texts),
        caption_attrs=np.array(attrs, np.int64).reshape(-1, 3),
        sample_captions=per_sample,
    )

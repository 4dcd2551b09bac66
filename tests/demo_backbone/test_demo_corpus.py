"""The procedural corpus: deterministic from its seed, varied captions, captions true of their image."""
import numpy as np

from tools.demo_backbone import corpus


def test_same_seed_same_samples():
    for i in range(6):
        a = corpus.generate_sample(7, i)
        b = corpus.generate_sample(7, i)
        assert np.array_equal(a.image, b.image)
        assert [c.text for c in a.captions] == [c.text for c in b.captions]


def test_other_seed_other_samples():
    a = [corpus.generate_sample(1, i).image for i in range(4)]
    b = [corpus.generate_sample(2, i).image for i in range(4)]
    assert not any(np.array_equal(x, y) for x, y in zip(a, b))


def test_corpus_independent_of_chunking():
    c = corpus.generate_corpus(3, 12)
    for i in (0, 5, 11):
        assert np.array_equal(c.images[i], corpus.generate_sample(3, i).image)
    assert c.images.shape == (12, 64, 64, 3) and c.images.dtype == np.uint8


def test_captions_are_varied():
    samples = [corpus.generate_sample(0, i) for i in range(60)]
    for s in samples:
        texts = [c.text for c in s.captions]
        assert len(texts) >= 3 and len(set(texts)) == len(texts)
    all_texts = {c.text for s in samples for c in s.captions}
    assert len(all_texts) > 150
    defects = {s.defect for s in samples}
    assert len(defects) > 10  # many concepts appear even in a small slice


def test_every_caption_is_true_of_its_image():
    for i in range(80):
        s = corpus.generate_sample(0, i)
        for c in s.captions:
            assert corpus.caption_is_true(c, s.material, s.defect, s.groups), c.text


def test_defect_vocabulary_covers_inspection_terms():
    words = " ".join(p for ps in corpus.DEFECT_PHRASES.values() for p in ps)
    for term in ("crazing", "inclusion", "patches", "pitted", "rolled-in scale", "scratches",
                 "local defect", "global defect"):
        assert term in words


def test_views_materials_and_sizes_of_the_second_corpus():
    samples = [corpus.generate_sample(0, i, size=96) for i in range(150)]
    assert all(s.image.shape == (96, 96, 3) and s.image.dtype == np.uint8 for s in samples)
    materials = {corpus.MATERIAL_IDS[s.material] for s in samples}
    assert {"painted_metal", "ceramic", "leather"} & materials
    view_words = {w for _, words in corpus.VIEWS.values() for w in words}
    captions = [c.text for s in samples for c in s.captions]
    assert any(any(w in t for w in view_words) for t in captions)  # the views reach the captions
    assert any("inspection" in t for t in captions)
    # the plain view's light leaves the surface alone; raking light shades its relief
    rng = np.random.default_rng(5)
    flat = np.full((96, 96), 0.5, np.float32)
    assert corpus.light(rng, flat, "plain") is flat
    assert np.isfinite(corpus.light(rng, flat + 0.01 * rng.standard_normal((96, 96)).astype(np.float32),
                                    "raking_light")).all()

"""How a class's images are split into training, validation and test images. Light (no torch): the
web side shows the split a dataset version will give before any job runs."""


def split_sizes(images: int, shots: int) -> tuple[int, int, int]:
    """(train, validation, test) images a class with `images` images gives at `shots` shots:
    stratified, so every class keeps at least one validation and one test image. (0, 0, 0) when the
    class has too few images (shots + 2 are needed)."""
    if shots < 1 or images < shots + 2:
        return 0, 0, 0
    n_val = max(1, min(shots, (images - shots) // 2))
    return shots, n_val, images - shots - n_val

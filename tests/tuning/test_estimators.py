import torch

from tuning.methods import estimators


def test_cge_matches_true_gradient():
    torch.manual_seed(0)
    d = 12
    Q = torch.randn(d, d, dtype=torch.float64)
    Q = Q @ Q.T / d
    b = torch.randn(d, dtype=torch.float64)

    def f(W):
        return 0.5 * ((W @ Q) * W).sum(1) + W @ b + (W ** 3).sum(1) / 3

    w = torch.randn(d, dtype=torch.float64)
    g, mean_loss = estimators.cge(f, w, 1e-3)
    true = Q @ w + b + w ** 2
    assert torch.allclose(g, true, atol=1e-5)
    assert abs(mean_loss - float(f(w[None])[0])) < 1e-4


def _many(f, w, mu, n, kernel_weighted, seed=0, batches=40):
    """`batches` independent estimates, each the mean of n/batches single-direction estimates."""
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([estimators.rge(f, w, mu, n // batches, gen, kernel_weighted=kernel_weighted)[0]
                        for _ in range(batches)])


def test_rge_and_kernel_rge_unbiased_on_a_quadratic():
    d = 4
    A = torch.diag(torch.arange(1.0, d + 1, dtype=torch.float64))

    def f(W):
        return 0.5 * ((W @ A) * W).sum(1)

    w = torch.tensor([1.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    true = A @ w
    for kernel_weighted in (False, True):
        G = _many(f, w, 1e-2, 200_000, kernel_weighted)
        se = G.std(0) / G.shape[0] ** 0.5
        assert ((G.mean(0) - true).abs() < 5 * se + 1e-6).all(), (kernel_weighted, G.mean(0), true)


def test_kernel_rge_cancels_the_mu_squared_bias_on_a_cubic():
    # f = sum c_i w_i^3: plain RGE has bias 3 mu^2 c exactly; the kernel-weighted one has none.
    c = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    def f(W):
        return (W ** 3 * c).sum(1)

    w = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    true = 3 * c * w ** 2
    mu, n = 0.5, 400_000
    plain = _many(f, w, mu, n, False).mean(0) - true
    kern = _many(f, w, mu, n, True).mean(0) - true
    assert torch.allclose(plain, 3 * mu ** 2 * c, atol=0.15)
    assert kern.norm() < 0.5 * plain.norm()


def test_kernel_moments():
    r = torch.linspace(-1, 1, 200001, dtype=torch.float64)
    dr = r[1] - r[0]
    k = estimators.kernel(r)
    assert abs(float((r * k).sum() * dr / 2) - 1) < 1e-4
    assert abs(float((r ** 3 * k).sum() * dr / 2)) < 1e-4


def test_mask_restricts_perturbation():
    def f(W):
        return (W ** 2).sum(1)

    mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
    g, _ = estimators.rge(f, torch.ones(4, dtype=torch.float64), 1e-3, 3, torch.Generator().manual_seed(1), mask=mask)
    assert g[1] == 0 and g[3] == 0 and g[0] != 0


def test_population_estimate_is_the_gradient_scaled_by_the_search_variance():
    # For a quadratic the Gaussian-smoothed gradient is the true one, so with many samples
    # X ~ N(m, sigma^2 I) the estimate approaches sigma^2 * grad L(m).
    d, sigma = 5, 0.3
    A = torch.diag(torch.arange(1.0, d + 1, dtype=torch.float64))

    def f(W):
        return 0.5 * ((W @ A) * W).sum(1) + W.sum(1)

    m = torch.tensor([1.0, -1.0, 0.5, 2.0, 0.0], dtype=torch.float64)
    X = m + sigma * torch.randn(400_000, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = estimators.population(m, X, f(X))
    assert torch.allclose(g / sigma ** 2, A @ m + 1, atol=0.05)
    assert estimators.query_cost("population", d, 1) == 0


def test_kernel_rge_with_shrunk_draws_still_cancels_the_mu_squared_bias():
    """r ~ U[-1/2, 1/2] with the weight K(2r) * 2 keeps E[r K] = 1 and E[r^3 K] = 0."""
    c = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    def f(W):
        return (W ** 3 * c).sum(1)

    w = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    g, _ = estimators.rge(f, w, 0.5, 400_000, gen, kernel_weighted=True, kernel_range=0.5)
    assert torch.allclose(g, 3 * c * w ** 2, atol=0.1)

"""The quality benchmark and the validation sweep run end to end (tiny backbone, tiny budgets) and
write their result files; the sweep never evaluates the test split."""
import pytest
from images import make_folder

import bench.common
import tuning
from bench import quality, sweep

TINY = ["--backbone", "tiny-causal", "--device", "cpu", "--shots", "2", "--seeds", "0,1",
        "--set", "budget=60", "--set", "intrinsic_dim=8", "--set", "popsize=4", "--set", "mask_every=5",
        "--set", "eval_every=3"]


@pytest.fixture
def bench_run(causal_backbone, tmp_path, monkeypatch):
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path / "results")
    data = make_folder(tmp_path / "data", per_class=6)
    return ["--data", str(data), "--cache-dir", str(tmp_path / "cache"), *TINY]


def test_quality_benchmark_writes_every_method_and_the_ablation(bench_run, tmp_path):
    quality.main([*bench_run, "--methods", "zeroshot,zosgd,sharpzo,sharpzo+tip,linear_probe,tip_adapter,coop",
                  "--ablation"])
    text = (tmp_path / "results" / "quality_tiny-causal_data.md").read_text()
    for row in ("| zeroshot |", "| zosgd |", "| sharpzo |", "| sharpzo+tip |", "| linear_probe |", "| tip_adapter |",
                "| coop |", "sharpzo lowest/recent_average", "test 95% interval", "queries to 90% of final val",
                "| wall s | CPU s | load average |", "load average (1/5/15 min)"):  # seconds a reader can compare
        assert row in text
    assert (tmp_path / "results" / "quality_tiny-causal_data.png").stat().st_size > 0
    assert '"mask_scores": "history"' in text  # the full configuration is on record


def test_claims_benchmark_measures_variance_and_kerzoo_without_the_test_split(bench_run, tmp_path, no_test_split):
    from bench import claims
    claims.main([*bench_run, "--draws", "3", "--set", "stage1_generations=2"])
    text = (tmp_path / "results" / "claims_tiny-causal_data.md").read_text()
    for row in ("| after sharpness-aware CMA-ES |", "| after plain CMA-ES (same queries) |", "| 0.3 |",
                "kernel, r ~ U[-1/2, 1/2]"):
        assert row in text
    assert (tmp_path / "results" / "claims_tiny-causal_data.png").stat().st_size > 0


class Untouchable:
    """Stands in for the test split: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the benchmark read the test split ({name})")

    def __len__(self):
        raise AssertionError("the benchmark read the test split (len)")


@pytest.fixture
def no_test_split(monkeypatch):
    """Every dataset the benchmark loads has an Untouchable test split."""
    load = tuning.load_image_folder

    def without_test_split(*args, **kwargs):
        data = load(*args, **kwargs)
        data.test = Untouchable()
        return data

    monkeypatch.setattr(tuning, "load_image_folder", without_test_split)


def test_sweep_compares_variants_on_validation_only(bench_run, tmp_path, no_test_split):
    sweep.main([*bench_run, "--name", "check", "--variant", "method=zosgd",
                "--variant", "stage1_grad=cge", "mask_scores=cge"])
    text = (tmp_path / "results" / "sweep_check.md").read_text()
    assert "| method=zosgd |" in text and "| stage1_grad=cge mask_scores=cge |" in text


def test_sweep_at_equal_time_stops_every_run_at_the_limit(bench_run, tmp_path):
    sweep.main([*bench_run, "--name", "timed", "--method", "zosgd", "--grid", "q=1,4", "--seconds", "0"])
    text = (tmp_path / "results" / "sweep_timed.md").read_text()
    assert "every run stopped after 0 worker-seconds" in text
    assert text.count(" | 1 |") == 2  # the zero-shot query, then the limit: nothing more was spent


def test_sweep_wants_a_grid_or_variants(bench_run):
    with pytest.raises(SystemExit):
        sweep.main(bench_run)


def test_gpu_check_runs_its_every_part_on_the_cpu_in_smoke_mode(tmp_path, monkeypatch):
    """`python -m bench gpu --smoke`: the code a GPU machine runs, at small sizes on the CPU."""
    from bench import gpu
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path / "results")
    monkeypatch.setenv("BENCH_THREADS", "1")
    gpu.main(["--smoke", "--device", "cpu", "--cache-dir", str(tmp_path / "cache")])
    text = (tmp_path / "results" / "gpu_smoke_cpu.md").read_text()
    for part in ("## Throughput", "| 10 | stage-2 step | fp32 | eager | 1 |",
                 "| 10 | stage-2 step | fp32 | padded | 2 |", "| 10 | CMA-ES generation | fp32 | padded |",
                 "through `padded` and through `eager`: K = 10 fp32: 0.0e+00.",  # the padded path is exact here
                 "## A job end to end", "| auto | auto |",
                 "## Peak memory", "## Finite-difference agreement with fp32", "| bf16 | fp32 | 1.0000 | 0 |",
                 "## Quality at equal query budgets"):
        assert part in text, part
    assert "| sharpzo | 1 |" in text or "Skipped: the dataset folder" in text


def test_sparse_quality_benchmark_writes_the_probe_reference_and_its_rows(bench_run, tmp_path):
    from bench import quality_sparse
    quality_sparse.main([*bench_run, "--rows", "prompt sharpzo,prompt+head cmaes"])
    text = (tmp_path / "results" / "quality_sparse_data.md").read_text()
    for row in ("| linear probe (method linear_probe; the reference) |", "| prompt sharpzo |", "| prompt+head cmaes |"):
        assert row in text


def test_memory_benchmark_compares_a_sparse_job_with_inference(causal_backbone, tmp_path, monkeypatch):
    """`python -m bench memory --adapt sparse` (each row in a fresh process; here in this one, where the
    tiny backbone is registered): both jobs and inference, the ratio, and the adapter file's size."""
    from bench import memory, memory_sparse
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(memory_sparse, "_run_fresh",
                        lambda label, argv: memory_sparse.measure_one(label, memory_sparse._arguments(argv)))
    data = make_folder(tmp_path / "data", per_class=6)
    memory.main(["--adapt", "sparse", "--backbone", "tiny-causal", "--data", str(data), "--shots", "2",
                 "--generations", "1", "--set", "popsize=4", "--set", "intrinsic_dim=8", "--set", "vision_dim=4",
                 "--set", "param_budget=0.02"])
    text = (tmp_path / "results" / "memory_sparse_cpu.md").read_text()
    for row in ("| inference (zero-shot, test images) |", "| sparse job, image delta 0.5 % |",
                "| sparse job, param_budget 0 (form default) |", "whole peak / inference"):
        assert row in text
    assert "failed" not in text


def test_speed_benchmark_times_a_generation_in_one_call(causal_backbone, tmp_path, monkeypatch):
    from bench import speed_sparse
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path / "results")
    speed_sparse.main(["--backbone", "tiny-causal", "--images", "18", "--repeats", "1", "--candidates", "3",
                       "--generation-only"])
    text = (tmp_path / "results" / "speed_sparse_generation_cpu.md").read_text()
    assert "one call per generation, now (ms)" in text and text.count("x |") == 4


def test_protocol_verdicts_follow_the_paired_interval():
    from bench import protocol
    assert protocol.verdict(0.01, 0.05) == protocol.HELPS
    assert protocol.verdict(-0.05, -0.01) == protocol.HURTS
    assert protocol.verdict(-0.01, 0.05) == protocol.NONE
    mean, low, high = protocol.paired_interval([0.5, 0.6, 0.7], [0.6, 0.7, 0.8])
    assert abs(mean - 0.1) < 1e-12 and low == pytest.approx(0.1) and high == pytest.approx(0.1)  # same gain each seed
    mean, low, high = protocol.paired_interval([0.5, 0.6, 0.7], [0.7, 0.5, 0.8])
    assert low < 0 < high
    with pytest.raises(ValueError):
        protocol.paired_interval([0.5], [0.5, 0.6])


def _protocol_args(bench_run):
    """The quality bench's tiny arguments, with the data folder as a --sets entry."""
    args = list(bench_run)
    folder = args[args.index("--data") + 1]
    del args[args.index("--data"):args.index("--data") + 2]
    return ["--sets", f"{folder},absent-set", *args]


def test_protocol_chooses_on_validation_only(bench_run, tmp_path, no_test_split):
    from bench import protocol
    protocol.main([*_protocol_args(bench_run), "--name", "check", "--set", "method=zosgd", "--base", "lr=3",
                   "--arm", "lr=1", "--arm", "lr=0", "--validation-only"])
    text = (tmp_path / "results" / "protocol_check.md").read_text()
    for part in ("| lr=3 (base) | 2 |", "| lr=1 | 2 |", "| lr=0 | 2 |", "absent (skipped): absent-set",
                 "the test split was not read", "Progress: complete", "load average"):
        assert part in text, part


def test_protocol_reports_test_differences_after_the_runs(bench_run, tmp_path):
    from bench import protocol
    protocol.main([*_protocol_args(bench_run), "--name", "tested", "--set", "method=cmaes",
                   "--arm", "cma_covariance=diagonal"])
    text = (tmp_path / "results" / "protocol_tested.md").read_text()
    assert "test diff vs base (95%)" in text and "| cma_covariance=diagonal | 2 |" in text
    assert any(v in text for v in (protocol.HELPS, protocol.HURTS, protocol.NONE))
    picture = tmp_path / "results" / "protocol_tested.png"
    assert "protocol_tested.png" in text and picture.read_bytes()[:4] == b"\x89PNG"
    picture.unlink()  # drawn again from the saved runs alone, as for a file written before the picture existed
    from bench import protocol_plot
    protocol_plot.main([str(tmp_path / "results" / "protocol_tested.json")])
    assert picture.read_bytes()[:4] == b"\x89PNG"



def test_protocol_resumes_from_the_runs_it_saved(bench_run, tmp_path, monkeypatch):
    from bench import protocol
    args = [*_protocol_args(bench_run), "--name", "again", "--set", "method=zosgd", "--arm", "lr=1",
            "--validation-only"]
    protocol.main(args)

    def no_more_runs(*a, **k):
        raise AssertionError("a split measured again")
    monkeypatch.setattr(protocol, "measure_split", no_more_runs)
    protocol.main([*args, "--resume"])  # every split is saved: nothing runs, the tables are whole
    text = (tmp_path / "results" / "protocol_again.md").read_text()
    assert "| lr=1 | 2 |" in text and "Pooled over every set and seed" in text and "| lr=1 | 2 |" in text
    with pytest.raises(AssertionError, match="measured again"):  # another arm: the saved runs are not its
        protocol.main([*args[:-1], "--arm", "lr=0", "--validation-only", "--resume"])

def test_protocol_measures_splits_side_by_side_in_processes(bench_run, tmp_path):
    """--processes 2: each split in a process of its own (the shipped demo backbone: a spawned process does not
    see backbones registered in this one), the same table as in one process."""
    from bench import protocol
    args = _protocol_args(bench_run)
    args[args.index("tiny-causal")] = "demo"
    protocol.main([*args, "--name", "pool", "--set", "method=cmaes", "--arm", "cma_covariance=diagonal",
                   "--processes", "2"])
    text = (tmp_path / "results" / "protocol_pool.md").read_text()
    assert "Progress: complete" in text and "| cma_covariance=diagonal | 2 |" in text and "2 processes" in text

def _ceiling_args(bench_run):
    args = _protocol_args(bench_run)
    keep = ["--sets", args[1], "--backbone", "tiny-causal", "--shots", "2", "--seeds", "0,1"]
    return [*keep, "--cache-dir", args[args.index("--cache-dir") + 1], "--epochs", "1", "--batch", "4"]


def test_ceilings_choose_their_learning_rate_and_epoch_on_validation_only(bench_run, tmp_path, no_test_split):
    from bench import ceilings
    ceilings.main([*_ceiling_args(bench_run), "--name", "check", "--validation-only"])
    text = (tmp_path / "results" / "ceilings_check.md").read_text()
    for row in ("| probe | 2 |", "| full | 2 |", "| sparse | 2 |", "| lora | 2 |", "Progress: complete"):
        assert row in text, row


def test_ceilings_report_test_differences_against_the_probe(bench_run, tmp_path):
    from bench import ceilings
    ceilings.main([*_ceiling_args(bench_run), "--name", "tested", "--rows", "lora"])
    text = (tmp_path / "results" / "ceilings_tested.md").read_text()
    assert "| lora | 2 |" in text and "test diff vs probe (95%)" in text and "nan" not in text


def test_lora_starts_at_the_frozen_weights_and_trains_only_its_factors():
    import torch

    from bench.ceilings import add_lora
    layer = torch.nn.Sequential(torch.nn.Linear(4, 3))
    x = torch.randn(2, 4)
    before = layer(x)
    params = add_lora(layer, rank=2)
    assert torch.allclose(layer(x), before)  # B = 0 at the start
    assert len(params) == 2 and {tuple(p.shape) for p in params} == {(2, 4), (3, 2)}


@pytest.mark.parametrize("row", ["full", "sparse", "lora"])
def test_each_ceiling_row_trains_the_tower_it_says_although_the_backbone_comes_frozen(row):
    import torch

    from bench.ceilings import Classifier, train_row
    torch.manual_seed(0)
    tower = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.GELU(), torch.nn.Linear(5, 4))
    for p in tower.parameters():
        p.requires_grad_(False)  # as a loaded backbone's
    start = Classifier(tower, torch.randn(3, 4), torch.zeros(3))
    x, y = torch.randn(24, 6), torch.arange(24) % 3
    *_, trained = train_row(row, start, (x, y), (x, y), lr=1e-2, epochs=2, batch=8, seed=0, sparse_fraction=0.2,
                            lora_rank=2)
    assert not torch.allclose(trained.tower(x), start.tower(x))
    if row == "lora":  # through its factors: the frozen weights stay as they were
        assert torch.equal(trained.tower[0].parametrizations.weight.original, start.tower[0].weight)
        return
    before, after = start.tower.state_dict(), trained.tower.state_dict()
    changed = sum(int((after[n] != before[n]).sum()) for n in before)
    entries = sum(p.numel() for p in before.values())
    assert changed == entries if row == "full" else 0 < changed <= round(0.2 * entries) + 1


def test_many_classes_benchmark_compares_every_row_with_inference_and_the_rule_with_full(causal_backbone, tmp_path,
                                                                                           monkeypatch):
    """`python -m bench many_classes` (each row in a fresh process; here in this one, where the tiny backbone is
    registered) on a generated set standing in for the shared ones."""
    from bench import many_classes
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(many_classes, "SHARED_DATASETS", tmp_path / "datasets")
    make_folder(tmp_path / "datasets" / "neu-det", per_class=30)
    monkeypatch.setattr(many_classes, "run_fresh", lambda module, argv, what: many_classes.measure_one(
        argv[-2], int(argv[-1]), many_classes._arguments(argv[:-3])))
    many_classes.main(["--backbone", "tiny-causal", "--classes", "4,8", "--cache-dir", str(tmp_path / "cache"),
                       "--accuracy-seeds", "0,1", "--accuracy-shots", "2", "--accuracy-budget", "20",
                       "--probe-steps", "5"])
    text = (tmp_path / "results" / "many_classes_cpu.md").read_text()
    for row in ("| default (auto) |", "| linear probe |", "| K=8 / inference |", "K=8 / K=4 (CPU)",
                "| full (K x K head, full covariance) | 2 |", "Identical on every seed", "d = 448 (320 head)"):
        assert row in text
    assert "failed" not in text

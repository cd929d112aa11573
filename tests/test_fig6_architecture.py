"""zfkeras.analysis.sections.fig6_architecture: variants, their training calls, the numbers."""

import pathlib

import numpy as np
import pytest

from zfkeras.analysis.sections import fig6_architecture as fig6
from zfkeras.analysis.protocol import filter_measures as fm
from zfkeras.analysis.report.section import SectionUnavailable


class FakeRun:
    path = pathlib.Path("/runs/fake")
    config = {"dataset": "fashion_mnist", "model": "zfnet_small", "seed": 3, "batch_size": 128,
              "learning_rate": 0.01, "momentum": 0.9, "dropout": 0.5, "data_dir": "", "weight_decay": 5e-4,
              "nesterov": True}
    input_shape = (28, 28, 1)


def test_three_variants_differ_only_where_compared():
    zf, baseline, noclip = fig6.variants()
    assert zf.conv1 == noclip.conv1 == (5, 1, 2) and baseline.conv1 == (9, 2, 4)
    assert zf.clip and baseline.clip and not noclip.clip


def test_conv1_option_changes_conv1_only():
    from zfkeras.train.config import TrainConfig
    from zfkeras.train.runner import build_model

    config = TrainConfig()
    baseline = build_model(TrainConfig(conv1=(9, 2)).validate(), (28, 28, 1), 10)
    reference = build_model(config, (28, 28, 1), 10)
    conv1 = baseline.get_layer("conv1")
    assert conv1.kernel_size == (9, 9) and conv1.strides == (2, 2)
    assert tuple(conv1.output.shape[1:3]) == (14, 14)
    assert [l.name for l in baseline.layers] == [l.name for l in reference.layers]
    for name in ("conv2", "conv3", "fc6"):
        assert baseline.get_layer(name).get_config()["units" if name == "fc6" else "filters"] == \
            reference.get_layer(name).get_config()["units" if name == "fc6" else "filters"]
    assert baseline.get_layer("conv2").kernel_constraint is not None  # clipping as configured
    assert baseline.get_layer("pad1").padding == ((4, 4), (4, 4))


def test_conv1_option_is_checked():
    import pytest

    from zfkeras.train.config import TrainConfig

    with pytest.raises(ValueError, match="conv1 can only be set for zfnet_small, not 'zfnet'"):
        TrainConfig(model="zfnet", conv1=(9, 2)).validate()
    with pytest.raises(ValueError, match="conv1 must be two positive ints"):
        TrainConfig(conv1=(9,)).validate()
    with pytest.raises(ValueError, match="conv1 must be a positive integer, got 0"):
        TrainConfig(conv1=(9, 0)).validate()
    assert TrainConfig.from_dict(TrainConfig(conv1=(7, 2)).validate().to_dict()).conv1 == (7, 2)


def test_variants_are_trained_by_the_runner_with_one_budget(tmp_path, monkeypatch):
    from zfkeras.train import runner

    seen = []

    def fake_run(config, verbose=None, ten_crop=True):
        pathlib.Path(config.run_dir).mkdir(parents=True)  # as the runner does
        config.save(pathlib.Path(config.run_dir) / "config.json")
        model = runner.build_model(config, (28, 28, 1), 10)
        seen.append((config, model.get_layer("conv1").kernel_size, ten_crop))

    monkeypatch.setattr(runner, "run", fake_run)
    budget = {"train_examples": 96, "epochs": 2, "validation_size": 10}
    for variant in fig6.variants():
        assert fig6.train_variant(FakeRun(), variant, tmp_path, **budget, verbose=0) == \
            tmp_path / fig6.RUNS / variant.key
    configs = [c for c, _, _ in seen]
    assert [k for _, k, _ in seen] == [(5, 5), (9, 9), (5, 5)]
    assert not any(t for _, _, t in seen)  # the arms compare single-crop accuracy: no ten-crop test
    assert [c.filter_rms_clip for c in configs] == [0.1, 0.1, 0.0]
    for config in configs:
        assert config.max_train_examples == 96 and config.validation_size == 10
        assert config.epochs == 2 and config.seed == 3 and config.devices == 0
        # the base run has no recipe (an older run): its recipe was the paper's
        assert (config.recipe, config.learning_rate, config.warmup_epochs) == ("paper", 0.01, 0.0)
        assert (config.weight_decay, config.nesterov) == (5e-4, True)  # the rest of the run's recipe
    assert runner.build_model(configs[0], (28, 28, 1), 10).get_layer("conv1").kernel_size == (5, 5)  # restored


def test_measure_numbers_follow_their_definitions():
    from tests.report_helpers import tiny_model

    model = tiny_model()
    kernel = np.asarray(model.get_layer("conv1").kernel)
    kernel[..., 0] *= 0.01
    model.get_layer("conv1").kernel.assign(kernel)
    images = np.random.RandomState(0).normal(size=(12, 28, 28, 1)).astype(np.float32)
    result = fig6.measure(model, images, stride=1, count=3)
    assert result["dead_filters"] == int(fm.dead_filters(kernel).sum()) == 1
    assert result["projections"].shape == (3, 28, 28, 1)
    assert result["aliasing"] == 0.0  # stride 1
    assert result["low"] + result["mid"] + result["high"] == pytest.approx(1.0)
    assert result["dominance"] == pytest.approx(fm.dominance(kernel))
    assert result["high_frequency"] == pytest.approx(
        np.mean([fm.high_frequency_share(p) for p in result["projections"]]))


def test_other_datasets_are_unavailable_with_why(tmp_path):
    run = FakeRun()
    run.config = dict(FakeRun.config, dataset="folder")
    with pytest.raises(SectionUnavailable, match="28-pixel Fashion-MNIST runs; this run uses 'folder'"):
        fig6.report_section(run, tmp_path)


# -- the converged arms (zfkeras ablate --fig6) ---------------------------------


def test_converged_arm_configs_reuse_table2_zf(tmp_path):
    import json

    from zfkeras.train.config import TrainConfig
    from zfkeras.utils.errors import InputError

    base = TrainConfig(run_dir=str(tmp_path / "run"), epochs=11, seed=0, max_train_examples=0).validate()
    root = tmp_path / "ablations"
    configs = fig6.converged_arm_configs(base, root, [0, 2], epochs=3)
    zf, baseline, noclip = (v.key for v in fig6.variants())
    assert list(configs) == [(zf, 0), (baseline, 0), (noclip, 0), (zf, 2), (baseline, 2), (noclip, 2)]
    folders = [pathlib.Path(c.run_dir).relative_to(root).as_posix() for c in configs.values()]
    assert folders == ["zf", f"fig6/{baseline}", f"fig6/{noclip}", "zf-seed2", f"fig6/{baseline}-seed2",
                       f"fig6/{noclip}-seed2"]
    reference = configs[(zf, 0)].to_dict()
    for (key, seed), config in configs.items():
        different = {k for k, v in config.to_dict().items() if reference[k] != v}
        assert different <= {"run_dir", "seed", "conv1", "filter_rms_clip"}
        assert config.epochs == 3 and config.ablation == "zf" and config.seed == seed
    assert configs[(baseline, 0)].conv1 == (9, 2) and configs[(baseline, 0)].filter_rms_clip == 0.1
    assert configs[(noclip, 2)].conv1 == () and configs[(noclip, 2)].filter_rms_clip == 0.0
    # Table 2's zf at another budget is another run: the ZF arm trains in fig6/
    (root / "zf").mkdir(parents=True)
    other = dict(reference, epochs=1)
    (root / "zf" / "config.json").write_text(json.dumps(other))
    moved = fig6.converged_arm_configs(base, root, [0, 2], epochs=3)
    assert pathlib.Path(moved[(zf, 0)].run_dir) == root / "fig6" / zf
    assert pathlib.Path(moved[(zf, 2)].run_dir) == root / "zf-seed2"
    with pytest.raises(InputError, match="zfnet_small's conv1 on 28-pixel Fashion-MNIST; the run trains 'zfnet'"):
        fig6.converged_arm_configs(TrainConfig(model="zfnet").validate(), root)


def _fake_arm(folder, epochs=2, seed=0, **config):
    import json

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({
        "dataset": "fashion_mnist", "model": "zfnet_small", "ablation": "zf", "seed": seed, "epochs": epochs,
        "conv1": [], "filter_rms_clip": 0.1, **config}))
    (folder / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5, "epochs": epochs}))
    (folder / "model.keras").write_bytes(b"")


def test_converged_runs_need_all_arms_at_one_budget(tmp_path):
    root = tmp_path / "ablations"
    zf, baseline, noclip = (v.key for v in fig6.variants())
    _fake_arm(root / "fig6" / baseline, conv1=[9, 2])
    assert fig6.converged_runs(root) is None  # two arms missing: the report trains the quick arms
    _fake_arm(root / "fig6" / f"{noclip}-seed1", seed=1, filter_rms_clip=0.0)
    _fake_arm(root / "zf", epochs=9)  # Table 2's zf at another budget: not this comparison's arm
    _fake_arm(root / "remove_fc7", ablation="remove_fc7")
    assert fig6.converged_runs(root) is None
    _fake_arm(root / "zf-seed1", seed=1)  # Table 2's zf at the arms' budget: the ZF arm
    _fake_arm(root / "fig6" / f"{baseline}-seed1", seed=1, conv1=[9, 2])
    arms = fig6.converged_runs(root)
    assert list(arms) == [zf, baseline, noclip]
    assert [f.path.name for f in arms[zf]] == ["zf-seed1"]
    assert [f.path.name for f in arms[baseline]] == [baseline, f"{baseline}-seed1"]
    assert [f.path.name for f in arms[noclip]] == [f"{noclip}-seed1"]


def _copy_arm(source, folder, seed, scale=None, **config):
    """A copy of a trained run as one arm: its config edited, conv1's first filter scaled."""
    import json
    import shutil

    from zfkeras.runs.folder import RunFolder

    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("checkpoints", "report", "logs"))
    saved = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**saved, "seed": seed, "run_dir": str(folder), **config}))
    if scale is not None:
        model = RunFolder(folder).load_model()
        kernel = np.asarray(model.get_layer("conv1").kernel)
        kernel[..., 0] *= scale
        model.get_layer("conv1").kernel.assign(kernel)
        model.save(folder / "model.keras")


def test_ablate_fig6_and_report_read_the_converged_arms(tmp_path, trained_run):
    """`zfkeras ablate --fig6 --table-only` and the report's Fig. 6 measure the
    converged arms (here copies of one trained run, seed 5's conv1 altered)
    without training anything, as mean ± std over the seeds."""
    import csv
    import shutil

    from zfkeras.analysis.cli import ablate
    from zfkeras.runs.folder import RunFolder

    run_dir = tmp_path / "run"
    shutil.copytree(trained_run.path, run_dir, ignore=shutil.ignore_patterns("checkpoints", "report"))
    root = run_dir / "ablations"
    zf, baseline, noclip = (v.key for v in fig6.variants())
    seed = trained_run.config["seed"]  # the run's own seed: zf/ is Table 2's zf run and the ZF arm
    for s, scale in ((seed, None), (seed + 1, 4.0)):
        suffix = "" if s == seed else f"-seed{s}"
        _copy_arm(trained_run.path, root / f"zf{suffix}", s, scale)
        _copy_arm(trained_run.path, root / "fig6" / f"{baseline}{suffix}", s, scale, conv1=[9, 2])
        _copy_arm(trained_run.path, root / "fig6" / f"{noclip}{suffix}", s, scale, filter_rms_clip=0.0)
    assert ablate.main([str(run_dir), "--fig6", "--seeds", str(seed), str(seed + 1), "--table-only",
                        "--evolution-sample", str(trained_run.config["evolution_sample"])]) == 0
    with open(run_dir / "report" / "fig6_seeded.csv") as f:
        from_ablate = {r["variant"]: r for r in csv.DictReader(f)}
    assert list(from_ablate) == [zf, baseline, noclip] and from_ablate[zf]["seed_list"] == f"{seed} {seed + 1}"

    out = tmp_path / "report"
    out.mkdir()
    section = fig6.report_section(RunFolder(run_dir), out, verbose=0)
    assert "Shown: the converged arms" in section.caption_html and not (out / fig6.RUNS).exists()  # nothing trained
    assert "exceeds the seed spread" in section.caption_html or "within the seed spread" in section.caption_html
    assert "±" in section.body_html and f"{fig6.SEEDED}.csv" in section.files
    with open(out / fig6.NUMBERS) as f:
        per_run = list(csv.DictReader(f))
    with open(out / f"{fig6.SEEDED}.csv") as f:
        seeded = {r["variant"]: r for r in csv.DictReader(f)}
    assert [(r["variant"], int(r["seed"])) for r in per_run] == [
        (k, s) for k in (zf, baseline, noclip) for s in (seed, seed + 1)]
    for key in (zf, baseline, noclip):
        for number in ("dominance", "aliasing", "high_frequency", "test_accuracy"):
            values = [float(r[number]) for r in per_run if r["variant"] == key]
            assert float(seeded[key][f"{number}_mean"]) == pytest.approx(np.mean(values))
            assert float(seeded[key][f"{number}_std"]) == pytest.approx(np.std(values, ddof=1), abs=1e-12)
            assert float(from_ablate[key][f"{number}_mean"]) == pytest.approx(np.mean(values))
    assert float(seeded[zf]["dominance_std"]) > 0  # seed 5's scaled filter: the spread is measured
    assert float(seeded[zf]["aliasing_mean"]) == 0.0 and float(seeded[baseline]["aliasing_mean"]) > 0  # stride 1 / 2


def test_report_section_says_it_shows_the_quick_arms(tmp_path, monkeypatch, trained_run):
    """Without converged arms the section trains its quick arms (one epoch) and says so."""
    calls = []

    def fake_train(run, variant, out_dir, **budget):
        calls.append(budget)
        return trained_run.path  # stands in for each quick arm's run

    monkeypatch.setattr(fig6, "train_variant", fake_train)
    out = tmp_path / "report"
    out.mkdir()
    section = fig6.report_section(trained_run, out, verbose=0, sample=32, projections=2)
    assert [c["epochs"] for c in calls] == [1, 1, 1] and calls[0]["train_examples"] == 8192
    assert "Shown: the quick arms, 1 epoch each" in section.caption_html
    assert "zfkeras ablate RUN_DIR --fig6 --seeds 0 1" in section.caption_html
    assert "±" not in section.body_html and section.files == [fig6.FIGURE, fig6.NUMBERS]


def test_seeded_numbers_are_written_in_their_own_form():
    # test accuracy in percent with two decimals: the arms' seeds differ by tenths of a point
    acc = [0.9205, 0.9181]
    assert fig6._mean_std_text(acc, "test_accuracy") == f"{100 * np.mean(acc):.2f}% ± {100 * np.std(acc, ddof=1):.2f}%"
    assert fig6._mean_std_text([0.9205], "test_accuracy") == "92.05%"
    assert fig6._mean_std_text([0, 2], "dead_filters") == f"1 ± {np.std([0, 2], ddof=1):.3g}"
    assert fig6._mean_std_text([0.04, 0.05], "low") == "0.045 ± 0.007"
    assert fig6._mean_std_text([None], "aliasing") == "—"

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
              "learning_rate": 0.01, "momentum": 0.9, "dropout": 0.5, "data_dir": ""}
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

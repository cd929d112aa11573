import csv
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from zfkeras.analysis.sections import table2_ablations as t2
from zfkeras.analysis.report.section import SectionUnavailable
from zfkeras.runs.folder import RunFolder
from zfkeras.train.config import TrainConfig
from tests.subprocess_helpers import quiet_env

TINY = dict(epochs=1, batch_size=64, validation_size=128, max_train_examples=256, evolution_sample=32,
            evolution_maps=2)


def test_variant_configs_change_only_the_ablation_and_budget(tmp_path):
    base = TrainConfig(run_dir=str(tmp_path / "run"), epochs=10).validate()
    configs = t2.variant_configs(base, tmp_path / "abl", ["zf", "fc_2048"], epochs=2)
    assert list(configs) == ["zf", "fc_2048"]
    fc = configs["fc_2048"]
    assert fc.ablation == "fc_2048" and fc.epochs == 2 and fc.run_dir == str(tmp_path / "abl" / "fc_2048")
    different = {k for k, v in fc.to_dict().items() if base.to_dict()[k] != v}
    assert different == {"ablation", "epochs", "run_dir"}
    assert list(t2.variant_configs(base, tmp_path)) == list(t2.PAPER_TABLE2)
    with pytest.raises(ValueError, match="unknown ablation variant"):
        t2.variant_configs(base, tmp_path, ["remove_conv9"])


def test_scaled_widths_on_the_small_model():
    from zfkeras.models import ablation_kwargs, zfnet_small

    assert ablation_kwargs("fc_8192", zfnet_small)["fc_units"] == 1024
    assert ablation_kwargs("conv345_512_1024_512", zfnet_small)["conv_filters"] == (32, 64, 171, 341, 128)


def test_report_section_unavailable_without_ablations(tmp_path):
    TrainConfig(run_dir=str(tmp_path), **TINY).save(tmp_path / "config.json")
    with pytest.raises(SectionUnavailable, match=f"no finished ablation run in {tmp_path / 'ablations'}"):
        t2.report_section(RunFolder(tmp_path), tmp_path / "report")


def test_ablate_end_to_end_and_resume(tmp_path, fashion_mnist_dir):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    TrainConfig(run_dir=str(run_dir), data_dir=fashion_mnist_dir, **TINY).save(run_dir / "config.json")
    argv = [sys.executable, "-m", "zfkeras", "ablate", str(run_dir), "--variants", "zf", "remove_conv3_conv4_fc6_fc7",
            "--evolution-sample", "32"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=quiet_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| zf |" in proc.stdout and "| remove_conv3_conv4_fc6_fc7 |" in proc.stdout
    for variant in ("zf", "remove_conv3_conv4_fc6_fc7"):
        config = json.loads((run_dir / "ablations" / variant / "config.json").read_text())
        assert config["ablation"] == variant and config["epochs"] == 1 and config["max_train_examples"] == 256
    with open(run_dir / "report" / "table2_ablations.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["variant"] for r in rows] == ["zf", "remove_conv3_conv4_fc6_fc7"]
    metrics = json.loads((run_dir / "ablations" / "zf" / "metrics.json").read_text())
    assert float(rows[0]["val_top1_error_pct"]) == pytest.approx(100 * (1 - metrics["test_accuracy"]), abs=0.01)
    # the variants compare single-crop accuracy: no ten-crop test (ten forward passes per image)
    assert metrics["test_ten_crop_accuracy"] is None and metrics["ten_crop"] is None
    assert rows[0]["paper_val_top5"] == "16.5" and rows[0]["train_examples"] == "256"
    # the table states the recipe the variants ran, as their runs recorded it
    md = (run_dir / "report" / "table2_ablations.md").read_text()
    assert metrics["recipe"].startswith("cosine: ") and metrics["recipe"] in md and "flat epochs" not in md

    # rerun: both variants are complete, nothing is trained again
    stamp = (run_dir / "ablations" / "zf" / "model.keras").stat().st_mtime_ns
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=quiet_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("already complete") == 2
    assert "ten-crop" not in proc.stdout  # not measured on the finished variants either
    assert (run_dir / "ablations" / "zf" / "model.keras").stat().st_mtime_ns == stamp

    section = t2.report_section(RunFolder(run_dir), tmp_path / "report")
    assert section.key == "table2" and "Not yet trained" in section.caption_html
    # the notes run together in the caption, each a sentence of its own
    assert f"Command: zfkeras ablate {run_dir}. Not yet trained: " in section.caption_html
    assert (tmp_path / "report" / "table2_ablations.md").is_file()


def test_cli_no_tensorflow_for_help_and_errors(tmp_path):
    code = (
        "import sys\n"
        "from zfkeras import cli\n"
        f"argvs = [[v, '--help'] for v in ('probe', 'transfer', 'ablate')]\n"
        f"argvs += [['probe', {str(tmp_path)!r}, '--folds', '1'], ['transfer', {str(tmp_path)!r}, '--per-class', '0'],\n"
        f"          ['ablate', {str(tmp_path)!r}, '--variants', 'nope'], ['probe', {str(tmp_path)!r}],\n"
        f"          ['transfer', {str(tmp_path)!r}, '--target', 'tfds:'], ['ablate', {str(tmp_path)!r}],\n"
        f"          ['ablate', {str(tmp_path)!r}, '--fig6', '--variants', 'zf'],\n"
        f"          ['ablate', {str(tmp_path)!r}, '--seeds', '0', 'x']]\n"
        "for argv in argvs:\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
        "print('clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=quiet_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "clean" in proc.stdout
    err = proc.stderr
    assert "needs at least 2 folds" in err and "must be a positive integer, got '0'" in err
    assert "invalid choice: 'nope'" in err and "names no TFDS dataset" in err
    assert err.count("not a run folder") == 2
    assert "--fig6 trains Fig. 6's three arms, not Table 2 variants: drop --variants" in err
    assert "argument --seeds: must be a non-negative integer, got 'x'" in err


# -- seeds --------------------------------------------------------------------


def test_seeded_configs_folders_and_order(tmp_path):
    base = TrainConfig(run_dir=str(tmp_path / "run"), epochs=10, seed=3).validate()
    configs = t2.seeded_configs(base, tmp_path / "abl", ["zf", "fc_2048"], [3, 1], epochs=2)
    # all variants of the first seed, then the second; the run's own seed in <variant>/
    assert list(configs) == [("zf", 3), ("fc_2048", 3), ("zf", 1), ("fc_2048", 1)]
    assert [pathlib.Path(c.run_dir).name for c in configs.values()] == ["zf", "fc_2048", "zf-seed1", "fc_2048-seed1"]
    assert [c.seed for c in configs.values()] == [3, 3, 1, 1]
    fc1 = configs[("fc_2048", 1)]
    assert {k for k, v in fc1.to_dict().items() if base.to_dict()[k] != v} == {"ablation", "epochs", "run_dir", "seed"}
    # default: the run's own seed only, in the folders of a one-seed ablation
    plain = t2.seeded_configs(base, tmp_path / "abl", ["zf"])
    assert list(plain) == [("zf", 3)] and plain[("zf", 3)].to_dict() == t2.variant_configs(
        base, tmp_path / "abl", ["zf"])["zf"].to_dict()
    assert list(t2.seeded_configs(base, tmp_path, ["zf"], [1, 1, 3])) == [("zf", 1), ("zf", 3)]
    with pytest.raises(ValueError, match="seeds must be non-negative integers, got -1"):
        t2.seeded_configs(base, tmp_path, ["zf"], [-1])


def test_separation_is_welchs_t_test_at_5_percent():
    from scipy import stats

    # a: mean 11, s^2 = 2 (n 2); b: mean 7, s^2 = 4 (n 3): SE = sqrt(2/2 + 4/3) = sqrt(7/3)
    a, b = [10.0, 12.0], [5.0, 7.0, 9.0]
    test = t2.separation(a, b)
    va, vb = 2 / 2, 4 / 3
    df = (va + vb) ** 2 / (va ** 2 / 1 + vb ** 2 / 2)  # Welch-Satterthwaite, closed form
    assert test["difference"] == pytest.approx(4.0) and test["se"] == pytest.approx(math.sqrt(7 / 3))
    assert test["df"] == pytest.approx(df) and test["n"] == (2, 3)
    assert test["threshold"] == pytest.approx(test["t"] * math.sqrt(7 / 3))
    # independent oracle: scipy's Welch test; separated exactly when p < 5%
    p = stats.ttest_ind(a, b, equal_var=False).pvalue
    assert test["separated"] is bool(p < 0.05) is False  # 4 > 2 SE (3.06), but t(97.5%, 2.9 df) = 3.2
    for a, b in (([10.0, 12.0, 11.0], [5.0, 7.0, 6.0]), ([1.0, 2.0], [1.5, 2.5]), ([0.0, 0.1, 0.2], [5.0, 9.0])):
        assert t2.separation(a, b)["separated"] is bool(stats.ttest_ind(a, b, equal_var=False).pvalue < 0.05)
    assert t2.separation([1.0, 1.0], [1.0, 1.0])["separated"] is False  # no spread, no difference
    assert t2.separation([2.0, 2.0], [1.0, 1.0])["separated"] is True  # no spread, a difference
    one = t2.separation([10.0], [5.0, 7.0])  # one seed and no pooled spread: not judged
    assert one["difference"] == pytest.approx(4.0) and one["se"] is None and one["separated"] is None


def test_pooled_spread_and_the_pooled_test():
    from scipy import stats

    groups = [[10.0, 8.0, 9.0], [20.0, 16.0], [9.5, 10.0], [7.0], [None, 3.0]]
    s, df = t2.pooled_spread(groups)
    assert df == 2 + 1 + 1  # groups below two values add nothing
    assert s == pytest.approx(math.sqrt((1.0 * 2 + 8.0 * 1 + 0.125 * 1) / 4))
    assert t2.pooled_spread([[1.0], []]) == (None, 0)
    # two groups pooled over themselves: Student's equal-variance test (scipy) is the oracle
    for a, b in (([10.0, 12.0], [5.0, 7.0, 9.0]), ([1.0, 2.0, 1.5], [2.5, 3.0])):
        test = t2.separation(a, b, pooled=t2.pooled_spread([a, b]))
        assert test["df"] == len(a) + len(b) - 2
        assert test["separated"] is bool(stats.ttest_ind(a, b).pvalue < 0.05)
    # a pooled spread judges a variant with one seed
    one = t2.separation([12.0], [9.0, 10.0], pooled=(0.5, 6))
    assert one["se"] == pytest.approx(0.5 * math.sqrt(1 + 1 / 2))
    assert one["threshold"] == pytest.approx(stats.t.ppf(0.975, 6) * one["se"])  # 1.50
    assert one["separated"] is True
    assert t2.separation([10.5], [9.0, 10.0], pooled=(0.5, 6))["separated"] is False  # 1.0 < 1.50


def test_training_time_is_the_median_epoch_times_the_epochs():
    # the third epoch was stretched by a paused process: it must not stand for the variant's cost
    assert t2.run_seconds({"epoch_seconds": [10.0, 12.0, 1000.0, 11.0]}) == pytest.approx(11.5 * 4)
    assert t2.run_seconds({"epoch_seconds": [10.0, 20.0]}) == pytest.approx(30.0)
    assert t2.run_seconds({"mean_epoch_seconds": 5.0, "epochs": 3}) == pytest.approx(15.0)
    assert t2.run_seconds({}) is None


def _fake_run(root, name, variant, seed, accuracy, train_accuracy, top5=0.99, epochs=1, seconds=(2.0,)):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"dataset": "fashion_mnist", "model": "zfnet_small",
                                                    "ablation": variant, "seed": seed, "epochs": epochs}))
    (folder / "metrics.json").write_text(json.dumps({
        "test_accuracy": accuracy, "test_top5": top5, "history": {"accuracy": [0.1, train_accuracy]},
        "epochs": epochs, "train_examples": 100, "test_examples": 50, "epoch_seconds": list(seconds)}))


def test_mean_std_over_seeds_equal_numpy_and_claims(tmp_path):
    root = tmp_path / "ablations"
    accuracies = {"zf": [0.90, 0.92, 0.91], "fc_8192": [0.80, 0.84], "remove_fc6_fc7": [0.905, 0.90]}
    for variant, values in accuracies.items():
        for seed, accuracy in enumerate(values):
            _fake_run(root, t2.run_folder_name(variant, seed, 0), variant, seed, accuracy, accuracy - 0.05,
                      seconds=(60.0 * (seed + 1), 30.0))
    (root / "fig6").mkdir()  # Fig. 6's arms and other names are not Table 2 variants
    (root / "zf-seedx").mkdir()
    rows = t2.collect(root)
    assert [r["variant"] for r in rows] == ["zf", "remove_fc6_fc7", "fc_8192"]
    for row in rows:
        errors = 100 * (1 - np.array(accuracies[row["variant"]]))
        assert row["n"] == len(errors) and row["seeds"] == list(range(len(errors)))
        assert row["val_top1_error"] == pytest.approx(np.mean(errors))
        assert row["val_top1_error_std"] == pytest.approx(np.std(errors, ddof=1))
        assert row["train_top1_error"] == pytest.approx(np.mean(errors + 5))
        assert row["val_top5_error"] == pytest.approx(1.0)
        assert row["seconds"] == pytest.approx(np.mean([60.0 * (s + 1) + 30 for s in range(len(errors))]))
    files, shown, notes = t2.write_table2(rows, tmp_path / "out", root)
    md = (tmp_path / "out" / "table2_ablations.md").read_text()
    zf_errors = 100 * (1 - np.array(accuracies["zf"]))
    assert f"| zf | 14.00 ± 1.00 | {np.mean(zf_errors):.2f} ± {np.std(zf_errors, ddof=1):.2f} | 1.00 ± 0.00 | 3 |" in md
    with open(tmp_path / "out" / "table2_ablations.csv") as f:
        csv_rows = {r["variant"]: r for r in csv.DictReader(f)}
    assert float(csv_rows["fc_8192"]["val_top1_error_std"]) == pytest.approx(np.std([20, 16], ddof=1), abs=0.01)
    assert csv_rows["fc_8192"]["seeds"] == "2" and csv_rows["fc_8192"]["seed_list"] == "0 1"
    # the claim lines against zf, the spread pooled over the three variants: zf's errors 10, 8, 9
    # (s^2 1, n 3), fc_8192's 20, 16 (8, n 2), remove_fc6_fc7's 9.5, 10 (0.125, n 2): 4 df
    s_pooled = math.sqrt((1 * 2 + 8 * 1 + 0.125 * 1) / 4)
    se = s_pooled * math.sqrt(1 / 2 + 1 / 3)
    threshold = 2.7764451051977987 * se  # t(97.5%, 4 df), from a table
    fc_line = next(n for n in notes if n.startswith("Widening fc6-7"))
    assert f"val top-1 error +9.00 points (SE {se:.2f}, needs > {threshold:.2f} = t(97.5%, 4 df) x SE, " \
        "n = 2 and 3 seeds): exceeds the seed spread: higher" in fc_line
    fc6_line = next(n for n in notes if n.startswith("Removing fc6-7"))
    assert "+0.75 points" in fc6_line and "within the seed spread" in fc6_line  # 0.75 < 4.03
    assert "not yet trained" in next(n for n in notes if n.startswith("Removing conv3-4 costs"))


def test_partial_seeds_tabulate_and_budgets_do_not_mix(tmp_path):
    root = tmp_path / "ablations"
    _fake_run(root, "zf", "zf", 0, 0.9, 0.85)
    _fake_run(root, "zf-seed1", "zf", 1, 0.88, 0.85)
    _fake_run(root, "remove_fc6_fc7", "remove_fc6_fc7", 0, 0.8, 0.75)  # its seed 1 not yet trained
    _fake_run(root, "zf-seed2", "zf", 2, 0.7, 0.65, epochs=5)  # another budget than zf's others: left out
    rows = t2.collect(root)
    assert [(r["variant"], r["n"]) for r in rows] == [("zf", 2), ("remove_fc6_fc7", 1)]
    assert rows[0]["left_out"] == [str(root / "zf-seed2")] and rows[1]["val_top1_error_std"] is None
    _, shown, notes = t2.write_table2(rows, tmp_path / "out", root)
    assert shown[1][1:5] == ["25.00", "20.00", "1.00", 1]  # one seed: the value alone
    assert shown[0][2] == f"11.00 ± {np.std([10, 12], ddof=1):.2f}"
    line = next(n for n in notes if n.startswith("Removing fc6-7"))
    # one seed of remove_fc6_fc7, judged with zf's spread (s^2 = 2, 1 df): SE sqrt(2) sqrt(1 + 1/2)
    se = math.sqrt(2) * math.sqrt(1.5)
    assert f"val top-1 error +9.00 points (SE {se:.2f}, needs > {12.706204736174698 * se:.2f} = " \
        "t(97.5%, 1 df) x SE, n = 1 and 2 seeds): within the seed spread" in line
    # no variant with two seeds: nothing can be judged
    lone = [dict(r) for r in rows]
    lone[0]["val_top1_error_values"] = lone[0]["val_top1_error_values"][:1]
    lone_line = next(n for n in t2.claim_lines(lone) if n.startswith("Removing fc6-7"))
    assert "(n = 1 and 1 seeds; no variant has 2 seeds yet: not judged)" in lone_line
    assert any("Left out" in n and "zf-seed2" in n for n in notes)
    # runs that did not record their recipe: rebuilt from the config, one without a recipe field
    # from before recipes existed, so the paper's
    assert "paper: SGD lr 0.01, momentum 0.9, divided by 10 after 2 epochs" in notes[0]


def test_report_section_shows_seeded_ablations(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    TrainConfig(run_dir=str(run_dir), **TINY).save(run_dir / "config.json")
    for seed, accuracy in enumerate([0.9, 0.88]):
        _fake_run(run_dir / "ablations", t2.run_folder_name("zf", seed, 0), "zf", seed, accuracy, 0.8)
        _fake_run(run_dir / "ablations", t2.run_folder_name("fc_8192", seed, 0), "fc_8192", seed, accuracy - 0.2, 0.9)
    section = t2.report_section(RunFolder(run_dir), tmp_path / "report")
    assert "<td>11.00 ± 1.41</td>" in section.body_html and "<td>31.00 ± 1.41</td>" in section.body_html
    assert "--seeds 0 1" in section.caption_html and "mean ± sample standard deviation" in section.caption_html
    assert "Widening fc6-7 does not help (over-fits)" in section.body_html
    assert "train top-1 error -10.00 points" in section.body_html  # 20 vs 10: separated, lower


def test_ablate_seeds_end_to_end_partial_then_complete(tmp_path):
    from tests.train_helpers import write_learnable_fashion_mnist
    from zfkeras.analysis.cli import ablate

    write_learnable_fashion_mnist(tmp_path / "data", n_train=300, n_test=60, seed=2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    TrainConfig(run_dir=str(run_dir), data_dir=str(tmp_path / "data"), **dict(TINY, max_train_examples=200,
                validation_size=64, evolution_sample=8, evolution_maps=1)).save(run_dir / "config.json")
    common = [str(run_dir), "--variants", "zf", "--evolution-sample", "8"]
    assert ablate.main(common) == 0  # the run's own seed: <variant>/, as before seeds
    # a partial seeded run: seed 0 finished, seed 1 not yet trained, tabulates
    assert ablate.main(common + ["--seeds", "0", "1", "--table-only"]) == 0
    with open(run_dir / "report" / "table2_ablations.csv") as f:
        assert [(r["variant"], r["seeds"]) for r in csv.DictReader(f)] == [("zf", "1")]
    assert ablate.main(common + ["--seeds", "0", "1"]) == 0  # trains zf-seed1 only
    ablations = run_dir / "ablations"
    assert json.loads((ablations / "zf-seed1" / "config.json").read_text())["seed"] == 1
    assert json.loads((ablations / "zf" / "config.json").read_text())["seed"] == 0
    machines = json.loads((ablations / "machines.json").read_text())
    assert set(machines) == {"zf", "zf-seed1"} and "AVX-512" in machines["zf"]
    errors = [100 * (1 - json.loads((ablations / n / "metrics.json").read_text())["test_accuracy"])
              for n in ("zf", "zf-seed1")]
    with open(run_dir / "report" / "table2_ablations.csv") as f:
        row = next(csv.DictReader(f))
    assert row["seeds"] == "2" and row["seed_list"] == "0 1"
    assert float(row["val_top1_error_pct"]) == pytest.approx(np.mean(errors), abs=0.01)
    assert float(row["val_top1_error_std"]) == pytest.approx(np.std(errors, ddof=1), abs=0.01)

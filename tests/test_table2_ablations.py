import csv
import json
import subprocess
import sys

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

    # rerun: both variants are complete, nothing is trained again
    stamp = (run_dir / "ablations" / "zf" / "model.keras").stat().st_mtime_ns
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=quiet_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("already complete") == 2
    assert "ten-crop" not in proc.stdout  # not measured on the finished variants either
    assert (run_dir / "ablations" / "zf" / "model.keras").stat().st_mtime_ns == stamp

    section = t2.report_section(RunFolder(run_dir), tmp_path / "report")
    assert section.key == "table2" and "Not yet trained" in section.caption_html
    assert (tmp_path / "report" / "table2_ablations.md").is_file()


def test_cli_no_tensorflow_for_help_and_errors(tmp_path):
    code = (
        "import sys\n"
        "from zfkeras import cli\n"
        f"argvs = [[v, '--help'] for v in ('probe', 'transfer', 'ablate')]\n"
        f"argvs += [['probe', {str(tmp_path)!r}, '--folds', '1'], ['transfer', {str(tmp_path)!r}, '--per-class', '0'],\n"
        f"          ['ablate', {str(tmp_path)!r}, '--variants', 'nope'], ['probe', {str(tmp_path)!r}],\n"
        f"          ['transfer', {str(tmp_path)!r}, '--target', 'tfds:'], ['ablate', {str(tmp_path)!r}]]\n"
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

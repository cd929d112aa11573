import json

import pytest

from zfkeras.train.cli import build_parser, config_from_args
from zfkeras.train.config import TrainConfig


def _config(*argv):
    return config_from_args(build_parser().parse_args(list(argv)))


def test_defaults_are_the_papers_model_with_the_cosine_recipe():
    c = _config()
    assert (c.momentum, c.batch_size, c.dropout, c.filter_rms_clip) == (0.9, 128, 0.5, 0.1)
    assert (c.recipe, c.epochs, c.learning_rate, c.warmup_epochs, c.label_smoothing) == ("cosine", 11, 0.05, 1.0, 0.1)
    assert c.run_dir == "runs/zfnet_small-fashion_mnist"


def test_paper_recipe_is_one_flag_away():
    c = _config("--recipe", "paper")
    assert (c.recipe, c.epochs, c.learning_rate, c.warmup_epochs, c.label_smoothing) == ("paper", 10, 0.01, 0.0, 0.0)
    assert (c.anneal_factor, c.anneal_patience) == (0.1, 2)
    # a value given on the command line wins over the recipe's
    assert _config("--recipe", "paper", "--epochs", "3").epochs == 3


@pytest.mark.parametrize("args,match", [
    (("--recipe", "adam"), "recipe"),
    (("--recipe", "paper", "--warmup-epochs", "1"), "no warm-up"),
    (("--warmup-epochs", "-1"), "warmup_epochs"),
    (("--label-smoothing", "1"), "label_smoothing"),
])
def test_bad_recipe_settings_are_named(args, match):
    with pytest.raises(ValueError, match=match):
        _config(*args)


def test_a_run_from_before_recipes_counts_as_the_papers():
    from zfkeras.train.config import TrainConfig, config_differences

    saved = TrainConfig(recipe="paper").validate().to_dict()
    for key in ("recipe", "warmup_epochs", "label_smoothing"):
        del saved[key]
    paper = TrainConfig(recipe="paper").validate().to_dict()
    assert config_differences(saved, paper) == []
    assert [d[0] for d in config_differences(saved, TrainConfig().validate().to_dict())] == [
        "epochs", "label_smoothing", "learning_rate", "recipe", "warmup_epochs"]


def test_flags_override_config_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"epochs": 7, "learning_rate": 0.05, "run_dir": str(tmp_path / "r")}))
    c = _config("--config", str(path), "--epochs", "3", "--augment-flip", "--evolution-epochs", "1", "3")
    assert c.epochs == 3 and c.learning_rate == 0.05 and c.augment_flip is True
    assert c.evolution_epochs == (1, 3)
    assert c.run_dir == str(tmp_path / "r")


def test_config_round_trip(tmp_path):
    c = _config("--epochs", "2", "--seed", "5")
    c.save(tmp_path / "config.json")
    assert TrainConfig.from_file(tmp_path / "config.json") == c


@pytest.mark.parametrize("field,value,message", [
    ("momentum", 1.0, "momentum must be in"),
    ("epochs", 0, "epochs must be a positive integer, got 0"),
    ("anneal_patience", 0, "anneal_patience must be a positive integer"),
    ("anneal_factor", 1.0, r"anneal_factor must be in \(0, 1\), got 1.0"),
    ("anneal_factor", 0, r"anneal_factor must be in \(0, 1\)"),
    ("learning_rate", -1.0, "learning_rate must be > 0"),
    ("ablation", "remove_all", "ablation must be one of"),
    ("crop_size", 300, "crop_size 300 exceeds image_size 256"),
    ("evolution_epochs", (0, 2), "evolution_epochs must be positive"),
])
def test_validation_names_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value}).validate()


def test_a_string_where_a_number_belongs_is_a_type_error():
    with pytest.raises(TypeError, match="epochs must be a positive integer, got '3'"):
        TrainConfig(epochs="3").validate()


def test_resume_differences_treat_missing_fields_as_defaults():
    from zfkeras.train.config import config_differences

    new = TrainConfig(epochs=3).to_dict()
    older = {k: v for k, v in new.items() if k != "augment_flip"}  # a run from before that field
    assert config_differences(older, new) == []
    assert config_differences({**older, "epochs": 2, "devices": 4}, new) == [("epochs", 2, 3)]


def test_bad_config_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{epochs: 3")
    with pytest.raises(ValueError, match="not valid JSON"):
        TrainConfig.from_file(bad)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(ValueError, match=r"unknown config keys \['epochz'\]"):
        TrainConfig.from_file(unknown)
    with pytest.raises(ValueError, match="does not exist"):
        TrainConfig.from_file(tmp_path / "missing.json")


@pytest.mark.parametrize("tf_config,expected", [
    ("", (True, "chief")),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}', (True, "worker-0")),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}', (False, "worker-1")),
    ('{"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}', (False, "worker-0")),
    ('{"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', (True, "chief-0")),
])
def test_worker_role(tf_config, expected):
    from zfkeras.train.devices import worker_role

    assert worker_role(tf_config) == expected


def test_worker_role_bad_tf_config():
    from zfkeras.train.devices import worker_role

    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        worker_role("{not json")


@pytest.mark.parametrize("kwargs,message", [
    (dict(weight_decay=-1e-3), "weight_decay must be in"),
    (dict(augment_translate=-1), "augment_translate must be a non-negative integer"),
    (dict(augment_translate=2, dataset="folder", data_dir="x"), "augment_translate applies to Fashion-MNIST only"),
    (dict(augment_cutout=-3), "augment_cutout must be a non-negative integer"),
    (dict(augment_cutout=28), "augment_cutout must be smaller than the 28-pixel image, got 28"),
    (dict(augment_cutout=8, dataset="folder", data_dir="x"), "augment_cutout applies to Fashion-MNIST only"),
])
def test_bad_regularisation_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs).validate()


def test_a_run_from_before_weight_decay_resumes_without_it():
    from zfkeras.train.config import completed

    saved = TrainConfig().validate().to_dict()
    for key in ("weight_decay", "nesterov", "augment_translate", "augment_cutout"):
        del saved[key]
    filled = completed(saved)
    assert (filled["weight_decay"], filled["nesterov"], filled["augment_translate"], filled["augment_cutout"]) == \
        (0.0, False, 0, 0)
